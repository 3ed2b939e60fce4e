"""The router pipeline end to end, through the console collector: every scenario runs twice,
embedded (SQLite, in-process ports) and distributed (PostgreSQL + Redis)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
import pytest

from tests.support import modules as testkit
from tests.support.harness import chat_event, say
from waddlebot.core.permissions import PlatformRole
from waddlebot.infra import keys, overlay_keys
from waddlebot.infra.codec import Envelope, decode_outbound, encode_envelope
from waddlebot.infra.factory import build_ports
from waddlebot.platforms import CONSOLE
from waddlebot.router import RouterWorker
from waddlebot.router.pipeline import Incoming
from waddlebot.runtime import Runtime


async def test_ping_and_help(runtime: Runtime) -> None:
    assert await say(runtime, "!ping") == ["pong"]
    assert await say(runtime, "!PING") == ["pong"]
    (listing,) = await say(runtime, "!help")
    assert "!ping" in listing and "!help" in listing and "!echo" in listing
    assert "!modonly" not in listing  # everyone may not use it
    (mod_listing,) = await say(runtime, "!help", role="moderator")
    assert "!modonly" in mod_listing
    assert await say(runtime, "!help ping") == ["Usage: !ping - Checks that the bot is listening"]


async def test_a_command_groups_subcommand_answers_its_own_usage_line(runtime: Runtime) -> None:
    """A bad argument is answered with the subcommand's usage line, a subcommand above the
    caller's level is refused, and !help shows the subcommands."""
    assert await say(runtime, "!tally add @bob many", role="moderator") == [
        "Usage: !tally add <who> <points> [note] (points must be a whole number)"
    ]
    assert await say(runtime, "!tally add @bob 3 for the raid", role="moderator") == [
        "@bob +3 (for the raid)"
    ]
    assert await say(runtime, "!tally add @bob 3") == ["Only moderators and up can use !tally add."]
    assert await say(runtime, "!tally") == ["nothing tallied"]
    assert await say(runtime, "!tally nope") == [
        "Usage: !tally [add|show] (there is no 'nope'; use one of add, show)"
    ]
    (shown,) = await say(runtime, "!help tally")
    assert "!tally add <who> <points> [note] (moderator and up) - adds points" in shown


MODERATORS_ONLY = ("!addcom", "!delcom", "!editcom", "!unalias", "!modonly", "!overlay", "!module")


async def test_help_lists_only_what_a_viewer_can_use(runtime: Runtime) -> None:
    """A viewer is not shown commands that would refuse them; !help all shows them marked."""
    (listing,) = await say(runtime, "!help")
    shown = _listed(listing)
    assert not shown & set(MODERATORS_ONLY)
    assert {"!alias", "!commands", "!timer", "!label", "!prefix"} <= shown  # partly theirs
    assert listing.endswith("or !help all for the 10 that need a higher level.")
    (everything,) = await say(runtime, "!help all")
    for name in MODERATORS_ONLY:
        assert f"{name} (moderator)" in everything
    assert "!ping," in everything and "!ping (" not in everything
    assert await say(runtime, "!help addcom") == [
        "Usage: !addcom !name [-ul=<level>] [-cd=<seconds>] [-usercd=<seconds>] [-a=!other args] "
        "[-disabled|-enabled] <response> - Adds a custom command (moderator level and up)"
    ]
    # what the list left out is refused as it said
    assert await say(runtime, "!addcom !x hi") == ["@alice, !addcom is for moderator level and up."]
    (mod_listing,) = await say(runtime, "!help", role="moderator", user="mia")
    assert set(MODERATORS_ONLY) <= _listed(mod_listing)
    assert mod_listing.endswith("Try !help <command>.")  # nothing left for help all


def _listed(listing: str) -> set[str]:
    return set(re.findall(r"[!#][a-z][a-z0-9_-]*", listing.partition(": ")[2].partition(".")[0]))


async def test_help_for_unknown_command_shows_usage(runtime: Runtime) -> None:
    (line,) = await say(runtime, "!help nosuch")
    assert line == "Usage: !help [command | all] (there is no command !nosuch)"


async def test_plain_chat_and_unknown_commands_get_no_reply(runtime: Runtime) -> None:
    assert await say(runtime, "hello everyone") == []
    assert await say(runtime, "!nosuchcommand") == []
    assert await say(runtime, "#nosuchfunction") == []


async def test_aliases_reach_the_command(runtime: Runtime) -> None:
    assert await say(runtime, "!SAY hello") == ["hello"]


async def test_quoted_arguments_reach_the_module(runtime: Runtime) -> None:
    assert await say(runtime, '!echo "two words" and more') == ["two words and more"]


async def test_usage_error_shows_the_usage_line(runtime: Runtime) -> None:
    assert await say(runtime, "!greet") == ["Usage: !greet <name> (tell me who to greet)"]
    assert await say(runtime, "!greet bob") == ["hello bob"]


async def test_failing_module_apologises_and_router_keeps_going(runtime: Runtime) -> None:
    assert await say(runtime, "!boom") == ["Sorry, !boom failed. The error has been logged."]
    assert await say(runtime, "!ping") == ["pong"]


async def test_slow_module_times_out_with_an_apology(runtime: Runtime) -> None:
    replies = await say(runtime, "!slow 5")
    assert replies == ["Sorry, !slow took too long to answer. The error has been logged."]
    assert await say(runtime, "!ping") == ["pong"]


async def test_permission_levels_are_enforced_and_audited(runtime: Runtime) -> None:
    assert await say(runtime, "!modonly", user="eve") == [
        "@eve, !modonly is for moderator level and up."
    ]
    assert await say(runtime, "!modonly", user="mia", role="moderator") == ["hello moderator mia"]
    assert await say(runtime, "!modonly", user="oscar", role="owner") == ["hello moderator oscar"]
    await runtime.audit.flush()
    entries = await runtime.audit.recent(limit=20)
    denied = [e for e in entries if e.action == "command.modonly" and e.decision == "deny"]
    allowed = [e for e in entries if e.action == "command.modonly" and e.decision == "allow"]
    assert [e.actor for e in denied] == ["eve"]
    assert sorted(e.actor for e in allowed) == ["mia", "oscar"]


async def test_community_role_raises_the_level(runtime: Runtime) -> None:
    await say(runtime, "!ping", user="carol")  # creates the community and carol's identity
    resolved = await runtime.directory.resolve_entity("console:local", "console")
    user_id = await runtime.directory.ensure_identity("console", "carol")
    await runtime.directory.set_role(resolved.community_id, user_id, "moderator")
    await runtime.ports.cache.delete(keys.role_key(resolved.community_id, user_id))
    assert await say(runtime, "!modonly", user="carol") == ["hello moderator carol"]


async def test_private_replies_reach_only_the_caller(runtime: Runtime) -> None:
    console = runtime.collector(CONSOLE)
    assert console is not None
    bystander = console.open("bob", "everyone", "local")
    try:
        assert await say(runtime, "!secret") == ["(private) psst"]
        assert bystander.lines.empty()
        assert await say(runtime, "!ping") == ["pong"]
        assert not bystander.lines.empty()  # channel replies are seen by everyone present
    finally:
        console.close(bystander)


async def test_user_rate_limit_warns_once_per_window(settings, mode) -> None:  # type: ignore[no-untyped-def]
    limited = settings.model_copy(update={"rate_user_per_30s": 3})
    rt = await Runtime.start(limited)
    try:
        answers = [await say(rt, "!ping", user="spammer") for _ in range(6)]
        assert answers[:3] == [["pong"]] * 3
        assert answers[3][0].startswith("@spammer, slow down: you are sending commands fast.")
        assert answers[4:] == [[], []]  # told once, then quiet
        assert await say(rt, "!ping", user="someone-else") == ["pong"]
        assert await say(rt, "!ping", user="spammer", role="moderator") == ["pong"]
    finally:
        await rt.stop()


async def test_command_cooldown(runtime: Runtime) -> None:
    assert await say(runtime, "!cool", user="u1") == ["cool"]
    (notice,) = await say(runtime, "!cool", user="u1")
    assert notice.startswith("@u1, slow down: !cool is on cooldown for you. Try again in")
    assert await say(runtime, "!cool", user="u2") == ["cool"]


async def test_concurrent_commands_never_exceed_the_rate_limit(settings) -> None:  # type: ignore[no-untyped-def]
    limited = settings.model_copy(update={"rate_user_per_30s": 5})
    rt = await Runtime.start(limited)
    try:
        console = rt.collector(CONSOLE)
        assert console is not None
        session = console.open("burst", "everyone", "local")
        await asyncio.gather(*(console.send(session, f"!echo n{i}") for i in range(40)))
        lines = []
        while not session.lines.empty():
            lines.append(session.lines.get_nowait().text)
        echoed = [line for line in lines if line.startswith("n")]
        notices = [line for line in lines if "slow down" in line]
        assert len(echoed) == 5
        assert len(notices) == 1
    finally:
        await rt.stop()


async def test_new_entity_creates_community_and_broadcaster_becomes_owner(
    runtime: Runtime,
) -> None:
    viewer = chat_event("!ping", entity="twitch:9001", user_id="7", login="viewer")
    broadcaster = chat_event(
        "!ping",
        entity="twitch:9001",
        user_id="9001",
        login="streamer",
        roles=(PlatformRole.OWNER,),
    )
    outcomes = await runtime.router.process([Incoming(Envelope(viewer))])
    assert [r.text for r in outcomes[0].replies] == ["pong"]
    resolved = await runtime.directory.resolve_entity("twitch:9001", "twitch")
    assert not resolved.created
    await runtime.router.process([Incoming(Envelope(broadcaster))])
    owner_id = await runtime.directory.ensure_identity("twitch", "9001")
    viewer_id = await runtime.directory.ensure_identity("twitch", "7")
    assert await runtime.directory.member_role(resolved.community_id, owner_id) == "owner"
    assert await runtime.directory.member_role(resolved.community_id, viewer_id) is None
    other = await runtime.directory.resolve_entity("twitch:1", "twitch")
    assert other.community_id != resolved.community_id


async def test_redelivered_message_is_answered_once(runtime: Runtime) -> None:
    event = chat_event("!echo once", message_id="twitch-msg-1")
    first = await runtime.router.process([Incoming(Envelope(event))])
    again = await runtime.router.process([Incoming(Envelope(event))])
    twice_in_batch = await runtime.router.process(
        [Incoming(Envelope(chat_event("!echo x", message_id="m2")))] * 2
    )
    assert [r.text for r in first[0].replies] == ["once"]
    assert again[0].duplicate and again[0].replies == []
    assert [o.duplicate for o in twice_in_batch] == [False, True]


async def test_reclaimed_entry_of_a_dead_worker_is_still_answered(runtime: Runtime) -> None:
    """A worker that claimed a message and died before finishing must not make it a duplicate."""
    event = chat_event("!echo survived", message_id="claimed-then-died")
    await runtime.ports.cache.add(keys.dedupe_key("twitch", "claimed-then-died"), b"p", 60)
    redelivered = await runtime.router.process([Incoming(Envelope(event), deliveries=2)])
    assert [r.text for r in redelivered[0].replies] == ["survived"]
    finished = await runtime.router.process([Incoming(Envelope(event), deliveries=3)])
    assert finished[0].duplicate


async def test_listeners_get_events_and_overlay_updates_are_broadcast(runtime: Runtime) -> None:
    from waddlebot.core.events import Amounts, EventType

    follow = chat_event("", type_=EventType.FOLLOW, user_id="55", login="newfan")
    resolved = await runtime.directory.resolve_entity("twitch:1337", "twitch")
    subscription = await runtime.ports.broadcast.subscribe(
        overlay_keys.channel(resolved.community_id)
    )
    raid = chat_event(
        "", type_=EventType.RAID, user_id="66", login="raider", amounts=Amounts(viewers=42)
    )
    outcomes = await runtime.router.process([Incoming(Envelope(follow)), Incoming(Envelope(raid))])
    assert [r.text for r in outcomes[0].replies] == ["thanks for the follow, newfan!"]
    assert [r.text for r in outcomes[1].replies] == ["raid of 42!"]
    # the overlay module alerts the follow and the raid; the test kit adds its own raid alert
    updates = [orjson.loads(await asyncio.wait_for(anext(subscription), 5)) for _ in range(3)]
    assert {u["kind"] for u in updates} == {"alerts"}
    assert {"kind": "raid", "viewers": 42} in [u["payload"] for u in updates]
    await subscription.close()


async def test_replies_thread_only_to_chat_and_whispers_are_answered_in_private(
    runtime: Runtime,
) -> None:
    from waddlebot.core.contract import Visibility
    from waddlebot.core.events import EventType

    chat = chat_event("!echo hi", message_id="chat-1")
    follow = chat_event("", type_=EventType.FOLLOW, user_id="55", login="newfan")
    whisper = chat_event("!echo psst", type_=EventType.WHISPER, user_id="77", login="shy")
    said, followed, whispered = await runtime.router.process(
        [Incoming(Envelope(chat)), Incoming(Envelope(follow)), Incoming(Envelope(whisper))]
    )
    assert [(r.reply_to, r.visibility) for r in said.replies] == [("chat-1", Visibility.CHANNEL)]
    # a follow is not a message Twitch (or anyone) lets a reply hang from
    assert [r.reply_to for r in followed.replies] == [""]
    ((answer),) = whispered.replies
    assert (answer.text, answer.visibility, answer.to_user) == ("psst", Visibility.DIRECT, "77")


async def test_replies_land_on_the_platform_reply_stream(runtime: Runtime) -> None:
    stream = keys.replies_stream("twitch")
    await runtime.ports.bus.ensure_group(stream, "test-collector")
    event = chat_event("!echo to twitch", message_id="abc")
    await runtime.ports.bus.publish(keys.EVENTS_STREAM, [encode_envelope(event)])
    messages = []
    for _ in range(50):
        messages = await runtime.ports.bus.read(stream, "test-collector", "c1", 10, 200)
        if messages:
            break
    (message,) = [decode_outbound(m.data) for m in messages]
    assert (message.text, message.platform, message.entity_id) == (
        "to twitch",
        "twitch",
        "twitch:1337",
    )
    assert message.reply_to == "abc"
    for _ in range(100):  # the event is acknowledged once its replies are out
        if await runtime.ports.bus.pending_count(keys.EVENTS_STREAM, keys.ROUTER_GROUP) == 0:
            break
        await asyncio.sleep(0.02)
    assert await runtime.ports.bus.pending_count(keys.EVENTS_STREAM, keys.ROUTER_GROUP) == 0


async def test_module_calls_are_counted_once_per_command(runtime: Runtime) -> None:
    before = testkit.calls.get("echo", 0)
    await say(runtime, "!echo a")
    await say(runtime, "!echo b")
    assert testkit.calls["echo"] - before == 2


async def test_refusals_are_told_once_per_window(runtime: Runtime) -> None:
    first = await say(runtime, "!modonly", user="pest")
    assert first == ["@pest, !modonly is for moderator level and up."]
    assert [await say(runtime, "!modonly", user="pest") for _ in range(5)] == [[]] * 5
    assert await say(runtime, "!modonly", user="other") == [
        "@other, !modonly is for moderator level and up."
    ]
    await runtime.audit.flush()
    denied = [e for e in await runtime.audit.recent(limit=50) if e.decision == "deny"]
    assert len(denied) == 7  # every refusal is audited, even the silent ones


async def test_outbound_ids_are_stable_per_source(runtime: Runtime) -> None:
    from waddlebot.core.events import EventType

    follow = chat_event("", type_=EventType.FOLLOW, user_id="77", login="fan", message_id="f1")
    command = chat_event("!greet", message_id="c1")
    outcomes = await runtime.router.process(
        [Incoming(Envelope(follow)), Incoming(Envelope(command))]
    )
    assert [r.outbound_id for r in outcomes[0].replies] == [f"{follow.event_id}:on.testkit:0"]
    assert [r.outbound_id for r in outcomes[1].replies] == [f"{command.event_id}:router:0"]


async def test_community_prefix_can_be_changed_by_an_admin(runtime: Runtime) -> None:
    assert await say(runtime, "!prefix") == ["Commands here start with !"]
    assert await say(runtime, "!prefix ?", user="viewer") == [
        "Only admins and the owner can change the prefix; it stays !"
    ]
    assert await say(runtime, "!prefix #", role="admin") == [
        "Usage: !prefix [new prefix] (a prefix cannot start with #: it marks serverless commands)"
    ]
    assert await say(runtime, "!prefix ?", role="admin") == [
        "Commands here now start with ?, as in ?help"
    ]
    assert await say(runtime, "!ping") == []
    assert await say(runtime, "?ping") == ["pong"]
    (listing,) = await say(runtime, "?help")
    assert "?ping" in listing and "!ping" not in listing
    await runtime.audit.flush()
    changes = [e for e in await runtime.audit.recent() if e.action == "community.prefix"]
    assert [(e.actor, e.target) for e in changes] == [("alice", "?")]


async def test_only_the_core_module_may_change_the_community(runtime: Runtime) -> None:
    assert await say(runtime, "!hijack", role="owner") == ["trying"]
    assert await say(runtime, "$ping") == []
    assert await say(runtime, "!ping") == ["pong"]


async def test_each_action_kind_is_carried_out_with_the_trust_it_needs(
    runtime: Runtime,
) -> None:
    from waddlebot.core.contract import ActionKind
    from waddlebot.router.modules import LocalModuleClient
    from waddlebot.router.pipeline import Trust
    from waddlebot.sdk import Context, Module

    assert set(runtime.router.actions) == set(ActionKind)
    assert runtime.router.actions[ActionKind.WHISPER].trust is Trust.ANY_MODULE
    module = Module("whisperer")

    @module.command("psst")
    async def psst(ctx: Context) -> None:
        ctx.action(ActionKind.WHISPER, text="a secret")

    runtime.registry.add(LocalModuleClient(module))  # not built in, and trusted with this
    (outcome,) = await runtime.router.process([Incoming(Envelope(chat_event("!psst")))])
    assert [(r.text, r.visibility, r.to_user) for r in outcome.replies] == [
        ("a secret", "direct", "42")
    ]


async def test_a_bad_answer_spoils_only_its_own_event(runtime: Runtime) -> None:
    texts = ["!ping", "!badwhisper", "!badoverlay", "!echo still here"]
    batch = [Incoming(Envelope(chat_event(text))) for text in texts]
    outcomes = await runtime.router.process(batch)
    assert [[r.text for r in o.replies] for o in outcomes] == [
        ["pong"],
        ["Sorry, !badwhisper failed. The error has been logged."],
        ["Sorry, !badoverlay failed. The error has been logged."],
        ["still here"],
    ]


async def test_events_with_nul_characters_are_refused_before_the_database() -> None:
    import pydantic
    import pytest

    from waddlebot.core.events import NUL_REFUSED, nul_message

    for bad in (lambda: chat_event("!ping", user_id="evil\x00"), lambda: chat_event("!ping\x00")):
        with pytest.raises(pydantic.ValidationError) as refused:
            bad()
        assert [nul_message(error) for error in refused.value.errors()] == [NUL_REFUSED]


async def test_labels_grant_levels_at_once(runtime: Runtime) -> None:
    await say(runtime, "!ping", user="bob")  # WaddleBot knows bob
    assert await say(
        runtime, "!label create trusted #00aa00 moderator Trusted helpers", role="owner"
    ) == ["Created label trusted (grants moderator)."]
    assert await say(runtime, "!modonly", user="bob") == [
        "@bob, !modonly is for moderator level and up."
    ]
    assert await say(runtime, "!label add bob trusted", role="admin") == ["@bob now has trusted."]
    assert await say(runtime, "!modonly", user="bob") == ["hello moderator bob"]
    assert await say(runtime, "!label remove bob trusted", role="admin") == [
        "@bob no longer has trusted."
    ]
    await runtime.ports.cache.delete(keys.notice_key("console:local", "bob", "deny"))
    assert await say(runtime, "!modonly", user="bob") == [
        "@bob, !modonly is for moderator level and up."
    ]


async def test_an_expiring_label_stops_granting_its_level_on_time(runtime: Runtime) -> None:
    from datetime import UTC, datetime, timedelta

    await say(runtime, "!ping", user="temp")
    community = (await runtime.directory.resolve_entity("console:local", "console")).community_id
    user = await runtime.directory.ensure_identity("console", "temp")
    await runtime.labels.create(community, "shift", grants_level=500)
    soon = datetime.now(UTC) + timedelta(seconds=1)
    await runtime.labels.apply(community, "shift", "user", str(user), expires_at=soon)
    assert await say(runtime, "!modonly", user="temp") == ["hello moderator temp"]
    await asyncio.sleep(1.2)
    assert await say(runtime, "!modonly", user="temp") == [
        "@temp, !modonly is for moderator level and up."
    ]


async def test_other_bots_commands_do_not_use_up_the_rate_limit(settings, mode) -> None:  # type: ignore[no-untyped-def]
    limited = settings.model_copy(update={"rate_user_per_30s": 2})
    rt = await Runtime.start(limited)
    try:
        for _ in range(5):  # commands meant for another bot in the channel
            assert await say(rt, "!songrequest something", user="fan") == []
        assert await say(rt, "!ping", user="fan") == ["pong"]
    finally:
        await rt.stop()


async def test_a_slash_command_is_slash_whatever_the_prefix(runtime: Runtime) -> None:
    from waddlebot.core.events import EventType

    await say(runtime, "!prefix ?", role="owner", user="olga")  # the console community only
    slash = chat_event(
        "/echo from a slash",
        type_=EventType.SLASH_COMMAND,
        platform="console",
        entity="console:local",
    )
    (outcome,) = await runtime.router.process([Incoming(Envelope(slash))])
    assert [r.text for r in outcome.replies] == ["from a slash"]


async def test_a_batch_that_fails_after_claiming_is_still_answered(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails half way through a batch of people never seen before (after the
    dedupe claims): the worker's one-by-one retry answers every event, none is taken for a
    duplicate of its own failed attempt."""
    real = runtime.directory.ensure_identity
    failures = iter([True])

    async def flaky_ensure_identity(*args: Any, **kwargs: Any) -> int:
        if next(failures, False):
            raise ConnectionError("the database went away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(runtime.directory, "ensure_identity", flaky_ensure_identity)
    events_bus = (await build_ports("")).bus  # this worker's own events; the router is real
    worker = RouterWorker(
        bus=events_bus,
        broadcast=runtime.ports.broadcast,
        router=runtime.router,
        consumer="retry-test",
        block_ms=10,
    )
    await events_bus.ensure_group(keys.EVENTS_STREAM, keys.ROUTER_GROUP)
    events = [chat_event(f"!echo n{i}", user_id=f"new-{i}", login=f"new{i}") for i in range(5)]
    await events_bus.publish(keys.EVENTS_STREAM, [encode_envelope(e) for e in events])
    assert await worker.step() == 5
    assert await events_bus.pending_count(keys.EVENTS_STREAM, keys.ROUTER_GROUP) == 0
    await runtime.ports.bus.ensure_group(keys.replies_stream("twitch"), "retry-probe")
    published = await runtime.ports.bus.read(
        keys.replies_stream("twitch"), "retry-probe", "probe", 1000, 0
    )
    ids = {e.event_id for e in events}
    replies = [decode_outbound(m.data) for m in published]
    assert sorted(r.text for r in replies if r.event_id in ids) == [f"n{i}" for i in range(5)]
