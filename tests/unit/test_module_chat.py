"""waddlebot.testing: a module driven from a test as the router would drive it, with
schedules on a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from waddlebot.core.contract import ModuleRequest, ModuleResponse
from waddlebot.core.events import EventType
from waddlebot.core.permissions import Level
from waddlebot.sdk import Context, Module, UsageError
from waddlebot.testing import ManualClock, ModuleChat


def kudos_module() -> Module:
    module = Module("kudos")
    given: dict[str, int] = {}

    @module.command("kudos", usage="<who>", aliases=("props",))
    async def kudos(ctx: Context) -> str:
        if not ctx.args:
            raise UsageError("say who")
        who = ctx.args[0].lstrip("@")
        given[who] = given.get(who, 0) + 1
        return f"{ctx.caller_name} gives kudos to {who} ({given[who]})"

    @module.command("reset", level=int(Level.MODERATOR))
    async def reset(ctx: Context) -> str:
        given.clear()
        return "Kudos reset."

    @module.on(EventType.FOLLOW)
    async def follow(ctx: Context) -> str:
        return f"Welcome, {ctx.caller_name}!"

    @module.on(EventType.CHAT_MESSAGE)
    async def heard(ctx: Context) -> None:
        if "thanks" in ctx.request.raw_text:
            ctx.say("You're welcome.")

    @module.every("10m")
    async def tally(ctx: Context) -> str:
        return f"{sum(given.values())} kudos so far"

    @module.at("18:00", tz="Europe/Berlin")
    async def evening(ctx: Context) -> None:
        ctx.say(f"Evening in community {ctx.request.community_id}")

    return module


async def test_commands_answer_as_the_router_would() -> None:
    chat = ModuleChat(kudos_module())
    assert await chat.say("!kudos @bob", as_="mia") == ["mia gives kudos to bob (1)"]
    assert await chat.say("!PROPS bob thanks") == [
        "alice gives kudos to bob (2)",
        "You're welcome.",  # listeners of chat messages hear command lines too
    ]
    assert await chat.say("!kudos") == ["Usage: !kudos <who> (say who)"]
    assert await chat.say("!reset", as_="mia") == ["@mia, !reset is for moderator level and up."]
    assert await chat.say("!reset", as_="mia", level="moderator") == ["Kudos reset."]
    assert await chat.say("!nosuch") == []
    assert await chat.say("hello there") == []
    assert await chat.say("thanks all") == ["You're welcome."]


async def test_another_prefix() -> None:
    chat = ModuleChat(kudos_module(), prefix="?")
    assert await chat.say("!kudos bob") == []
    assert (await chat.say("?kudos bob"))[0] == "alice gives kudos to bob (1)"
    assert await chat.say("?kudos") == ["Usage: ?kudos <who> (say who)"]


async def test_events_reach_listeners() -> None:
    chat = ModuleChat(kudos_module())
    assert await chat.event(EventType.FOLLOW, as_="bob") == ["Welcome, bob!"]
    assert await chat.event(EventType.RAID, as_="bob", viewers=5) == []  # not listened to


async def test_scheduled_handlers_follow_the_clock() -> None:
    clock = ManualClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))  # 13:00 in Berlin
    chat = ModuleChat(kudos_module(), clock=clock, community_id=7)
    await chat.say("!kudos bob")
    assert await chat.run_due() == []
    clock.advance(minutes=9)
    assert await chat.run_due() == []
    clock.advance(minutes=1)
    assert await chat.run_due() == ["1 kudos so far"]
    assert await chat.run_due() == []  # once per run
    clock.advance(hours=5)  # 17:10 UTC is 18:10 in Berlin; thirty 10-minute runs missed
    assert await chat.run_due() == ["1 kudos so far", "Evening in community 7"]
    clock.advance(minutes=10)
    assert await chat.run_due() == ["1 kudos so far"]
    assert chat.responses[-1].replies[0].text == "1 kudos so far"


async def test_start_and_stop_hooks() -> None:
    module = Module("hooks")
    seen: list[str] = []

    @module.on_start
    async def opened() -> None:
        seen.append("start")

    @module.on_stop
    async def closed(which: Module) -> None:
        seen.append(f"stop {which.name}")

    async with ModuleChat(module):
        assert seen == ["start"]
    assert seen == ["start", "stop hooks"]


async def test_a_store_is_passed_to_a_handle_that_takes_one() -> None:
    class StoringModule(Module):
        async def handle(
            self, request: ModuleRequest, *, store: object | None = None
        ) -> ModuleResponse:
            return ModuleResponse.say(f"store {store}")

    module = StoringModule("storing")

    @module.command("x")
    async def x(ctx: Context) -> None:
        return None

    assert await ModuleChat(module, store="S").say("!x") == ["store S"]
    assert await ModuleChat(kudos_module(), store="S").say("!nosuch") == []


def test_a_level_by_an_unknown_name_is_refused() -> None:
    chat = ModuleChat(kudos_module())
    with pytest.raises(ValueError, match="unknown level"):
        chat._caller("mia", "boss", None)
