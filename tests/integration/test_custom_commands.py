"""Custom commands end to end through the console (embedded and distributed), and the counting
service on real SQLite and PostgreSQL (concurrent increments are exact)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.support.harness import say
from waddlebot.features.commands.service import (
    Changes,
    CustomCommandError,
    CustomCommandService,
    DuplicateCommand,
    ReservedName,
    UnknownCommand,
)
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db import Database
from waddlebot.infra.db.models import Community
from waddlebot.infra.memory import MemoryCache
from waddlebot.infra.redis_ports import RedisCache
from waddlebot.runtime import Runtime

MOD = {"role": "moderator", "user": "mia"}


async def test_add_invoke_edit_delete_through_every_form(runtime: Runtime) -> None:
    assert await say(runtime, "!commands add !hello Hello $(user)!", **MOD) == ["Added !hello."]
    assert await say(runtime, "!hello") == ["Hello alice!"]
    assert await say(runtime, "!HELLO", user="bob") == ["Hello bob!"]
    assert await say(runtime, "!command edit hello Hi $(user)", **MOD) == ["Updated !hello."]
    assert await say(runtime, "!hello") == ["Hi alice"]
    assert await say(runtime, "!cmd show !hello") == ["!hello: Hi $(user)"]
    assert await say(runtime, "!addcom !bye Bye   'now'", **MOD) == ["Added !bye."]
    assert await say(runtime, "!bye") == ["Bye   'now'"]  # the response is kept verbatim
    assert await say(runtime, "!editcom !bye See you", **MOD) == ["Updated !bye."]
    assert await say(runtime, "!bye") == ["See you"]
    assert await say(runtime, "!commands list") == ["Custom commands: !bye, !hello"]
    assert await say(runtime, "!delcom !bye", **MOD) == ["Deleted !bye."]
    assert await say(runtime, "!bye") == []
    assert await say(runtime, "!commands remove hello", **MOD) == ["Deleted !hello."]
    assert await say(runtime, "!commands delete hello", **MOD) == [
        "There is no custom command !hello here."
    ]
    assert await say(runtime, "!commands list") == ["No custom commands yet."]


async def test_management_is_for_moderators_and_errors_are_clear(runtime: Runtime) -> None:
    refused = "Only moderators and up can {} custom commands."
    assert await say(runtime, "!commands add !x hi") == [refused.format("add")]
    assert await say(runtime, "!commands edit !x hi") == [refused.format("edit")]
    assert await say(runtime, "!commands delete !x") == [refused.format("delete")]
    # !addcom, !editcom and !delcom are for moderators as a whole: the router refuses them
    assert await say(runtime, "!delcom !x") == ["@alice, !delcom is for moderator level and up."]
    assert await say(runtime, "!x") == []
    assert await say(runtime, "!addcom !x hi", **MOD) == ["Added !x."]
    assert await say(runtime, "!addcom !x again", **MOD) == [
        "There is already a custom command !x here."
    ]
    (usage,) = await say(runtime, "!addcom !y", **MOD)
    assert usage.startswith("Usage: !addcom") and "what should !y answer?" in usage
    (usage,) = await say(runtime, "!commands frob")
    assert "there is no 'frob'" in usage
    (usage,) = await say(runtime, "!addcom !bad! hi", **MOD)
    assert "is not a command name" in usage
    assert await say(runtime, "!editcom !nosuch hi", **MOD) == [
        "There is no custom command !nosuch here."
    ]


async def test_builtin_names_are_reserved(runtime: Runtime) -> None:
    for name in ("ping", "!help", "cmd", "addcom", "label"):
        (line,) = await say(runtime, f"!addcom {name} nope", **MOD)
        assert line == f"!{name.lstrip('!')} is a built-in command; pick another name."
    assert await say(runtime, "!ping") == ["pong"]


async def test_options_levels_and_disabled_commands(runtime: Runtime) -> None:
    assert await say(runtime, "!addcom -ul=mod !hush psst", **MOD) == [
        "Added !hush (moderator and up)."
    ]
    assert await say(runtime, "!hush", user="eve") == ["@eve, !hush is for moderator level and up."]
    assert await say(runtime, "!hush", user="eve") == []  # told once in 30 s, not every time
    assert await say(runtime, "!hush", **MOD) == ["psst"]
    assert await say(runtime, "!addcom !vipc -ul=300 -disabled hi vips", **MOD) == [
        "Added !vipc (vip and up, disabled)."
    ]
    assert await say(runtime, "!vipc", role="vip") == []  # disabled: silent
    assert await say(runtime, "!editcom !vipc -enabled", **MOD) == ["Updated !vipc (vip and up)."]
    assert await say(runtime, "!vipc", role="vip") == ["hi vips"]
    assert await say(runtime, "!commands list") == ["Custom commands: !hush, !vipc"]
    (usage,) = await say(runtime, "!addcom !z -ul=wizard hi", **MOD)
    assert "unknown level 'wizard'" in usage
    (usage,) = await say(runtime, "!addcom !z -cd=soon hi", **MOD)
    assert "-cd= takes whole seconds" in usage
    assert await say(runtime, "!editcom !vipc", **MOD) == [
        "Usage: !editcom !name [options] [response] "
        "(nothing to change: give a new response or options)"
    ]


async def test_cooldowns_global_and_per_user(runtime: Runtime) -> None:
    assert await say(runtime, "!addcom !g -cd=60 global", **MOD) == ["Added !g (cooldown 60s)."]
    assert await say(runtime, "!g") == ["global"]
    assert await say(runtime, "!g") == []  # silent while cooling down
    assert await say(runtime, "!g", user="bob") == []  # global: for everyone
    assert await say(runtime, "!addcom !u -usercd=60 mine", **MOD) == [
        "Added !u (per-user cooldown 60s)."
    ]
    assert await say(runtime, "!u") == ["mine"]
    assert await say(runtime, "!u") == []
    assert await say(runtime, "!u", user="bob") == ["mine"]  # per user: bob has his own
    (shown,) = await say(runtime, "!commands show g")
    assert shown == "!g (cooldown 60s): global"


async def test_variables(runtime: Runtime) -> None:
    await say(runtime, "!addcom !hug $(user) hugs $(touser)", **MOD)
    assert await say(runtime, "!hug @bob") == ["alice hugs bob"]
    assert await say(runtime, "!hug") == ["alice hugs alice"]
    await say(runtime, "!addcom !args first=$(1) rest=$(2:) none=$(3 default)", **MOD)
    assert await say(runtime, "!args a b c") == ["first=a rest=b c none=c"]
    assert await say(runtime, "!args a") == ["first=a rest= none=default"]
    await say(runtime, "!addcom !uses used $(count) times ($(count))", **MOD)
    assert await say(runtime, "!uses") == ["used 1 times (1)"]
    assert await say(runtime, "!uses") == ["used 2 times (2)"]
    await say(runtime, "!addcom !death deaths: $(count deaths +1)", **MOD)
    await say(runtime, "!addcom !revive deaths: $(count deaths -1)", **MOD)
    await say(runtime, "!addcom !deaths deaths so far: $(getcount deaths)", **MOD)
    assert await say(runtime, "!deaths") == ["deaths so far: 0"]
    assert await say(runtime, "!death") == ["deaths: 1"]
    assert await say(runtime, "!death") == ["deaths: 2"]
    assert await say(runtime, "!revive") == ["deaths: 1"]
    assert await say(runtime, "!deaths") == ["deaths so far: 1"]
    await say(runtime, "!addcom !pick $(random.pick 'only one')", **MOD)
    assert await say(runtime, "!pick") == ["only one"]
    await say(runtime, "!addcom !odd $(nosuch thing) and $(count bad!name)", **MOD)
    assert await say(runtime, "!odd") == ["$(nosuch thing) and $(count bad!name)"]
    await say(runtime, "!addcom !long " + "x" * 600, **MOD)
    (long,) = await say(runtime, "!long")
    assert len(long) == 500


async def test_aliases_to_custom_commands(runtime: Runtime) -> None:
    await say(runtime, "!addcom !shout $(1:)!", **MOD)
    assert await say(runtime, "!addcom !yell -a=!shout", **MOD) == [
        "Added !yell (alias of !shout)."
    ]
    assert await say(runtime, "!yell hey you") == ["hey you!"]
    assert await say(runtime, '!addcom !hi -a="!shout hi there"', **MOD) == [
        "Added !hi (alias of !shout hi there)."
    ]
    assert await say(runtime, "!hi bob") == ["hi there bob!"]
    assert await say(runtime, "!addcom !p -a=!ping", **MOD) == [
        "!p would alias !ping, a built-in command; an alias here must point at another "
        "custom command."
    ]
    await say(runtime, "!addcom !a -a=!b", **MOD)
    await say(runtime, "!addcom !b -a=!a", **MOD)
    assert await say(runtime, "!a") == ["!a is an alias loop (!a -> !b -> !a); fix one of them."]
    await say(runtime, "!addcom !ghost -a=!nobody", **MOD)
    assert await say(runtime, "!ghost") == ["!ghost is an alias of !nobody, which does not exist."]
    for n in range(7):
        await say(runtime, f"!addcom !c{n} -a=!c{n + 1}", **MOD)
    await say(runtime, "!addcom !c7 end", **MOD)
    assert await say(runtime, "!c2") == ["end"]  # five hops
    assert await say(runtime, "!c0") == ["!c0 goes through more than 5 aliases; shorten it."]


# --- the service on both databases -----------------------------------------------------------


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url, pool_size=55, max_overflow=5)
    yield database
    await database.close()


@pytest.fixture
def service(db: Database) -> CustomCommandService:
    return CustomCommandService(db, AuditLog(db), MemoryCache())


async def new_community(db: Database) -> int:
    async with db.session() as session:
        community = Community(name="Waddle TV", settings={})
        session.add(community)
        await session.flush()
        return community.id


async def test_counts_are_exact_under_concurrency(
    db: Database, service: CustomCommandService
) -> None:
    community = await new_community(db)
    await service.add(community, "hits", Changes(response="$(count)"))
    values = await asyncio.gather(*(service.increment(community, "hits") for _ in range(50)))
    assert sorted(values) == list(range(1, 51))
    assert (await service.get(community, "hits")).count == 50  # type: ignore[union-attr]
    named = await asyncio.gather(
        *(service.add_to_counter(community, "deaths", 1) for _ in range(50))
    )
    assert sorted(named) == list(range(1, 51))
    assert await service.get_counter(community, "deaths") == 50
    assert await service.get_counter(community, "other") == 0


async def test_service_errors(db: Database, service: CustomCommandService) -> None:
    community = await new_community(db)
    with pytest.raises(ReservedName):
        await service.add(community, "!ping", Changes(response="x"), reserved={"ping"})
    with pytest.raises(CustomCommandError, match="say what the command answers"):
        await service.add(community, "empty", Changes())
    with pytest.raises(CustomCommandError, match="not a level"):
        await service.add(community, "lvl", Changes(response="x", level=7))
    with pytest.raises(CustomCommandError, match="at most 2000"):
        await service.add(community, "big", Changes(response="x" * 2001))
    await service.add(community, "Hi", Changes(response="x"))
    with pytest.raises(DuplicateCommand):
        await service.add(community, "!hi", Changes(response="y"))
    with pytest.raises(UnknownCommand):
        await service.edit(community, "nope", Changes(response="y"))
    with pytest.raises(UnknownCommand):
        await service.delete(community, "nope")
    with pytest.raises(UnknownCommand):
        await service.increment(community, "nope")
    with pytest.raises(CustomCommandError, match="counter name"):
        await service.add_to_counter(community, "bad name", 1)


async def test_cooldowns_expire(db: Database) -> None:
    now = [1000.0]
    service = CustomCommandService(db, AuditLog(db), MemoryCache(clock=lambda: now[0]))
    community = await new_community(db)
    info = await service.add(community, "cd", Changes(response="x", cooldown=30, user_cooldown=90))
    assert await service.take_cooldown(info, "a")
    assert not await service.take_cooldown(info, "b")
    now[0] += 31
    assert not await service.take_cooldown(info, "a")  # a's own 90 s still run
    assert await service.take_cooldown(info, "b")
    now[0] += 91
    assert await service.take_cooldown(info, "a")


async def test_cooldowns_are_shared_by_router_processes(
    db: Database, redis_url: str, key_prefix: str
) -> None:
    """Two processes (two Redis clients): a use in one starts the cooldown in the other."""
    first, second = RedisCache(redis_url, key_prefix), RedisCache(redis_url, key_prefix)
    try:
        one = CustomCommandService(db, AuditLog(db), first)
        two = CustomCommandService(db, AuditLog(db), second)
        info = await one.add(await new_community(db), "cd", Changes(response="x", cooldown=60))
        assert await one.take_cooldown(info, "a")
        assert not await two.take_cooldown(info, "b")
        info = await one.add(info.community_id, "ucd", Changes(response="x", user_cooldown=60))
        assert await one.take_cooldown(info, "a")
        assert not await two.take_cooldown(info, "a")
        assert await two.take_cooldown(info, "b")
    finally:
        await first.close()
        await second.close()
