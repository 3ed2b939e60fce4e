"""One person across platforms: the whole link flow between the console and Twitch (the test
plays the Twitch collector: it sends Twitch events and reads the Twitch reply stream), and the
code rules with a controlled clock. Embedded and distributed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.support.harness import chat_event, say
from waddlebot.core.clock import ManualClock
from waddlebot.core.contract import Visibility
from waddlebot.features.calendar.events import NewEvent
from waddlebot.features.calendar.models import CalendarAttendee
from waddlebot.features.identity.service import CODE_ALPHABET, IdentityError, IdentityService
from waddlebot.features.memories.service import Author, Speaker
from waddlebot.infra import keys
from waddlebot.infra.codec import Envelope, decode_outbound
from waddlebot.infra.db.models import User
from waddlebot.router.pipeline import Incoming
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

TWITCH_REPLIES = keys.replies_stream("twitch")


@pytest.fixture
async def linked_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    configured = settings.model_copy(update={"direct_message_platforms": ["console", "twitch"]})
    runtime = await Runtime.start(configured)
    await runtime.ports.bus.ensure_group(TWITCH_REPLIES, "fake-twitch")
    try:
        yield runtime
    finally:
        await runtime.stop()


async def on_twitch(runtime: Runtime, text: str) -> list[str]:
    """alice_tw (Twitch user 555) says ``text`` in Twitch channel 1337."""
    event = chat_event(text, entity="twitch:1337", user_id="555", login="alice_tw")
    (outcome,) = await runtime.router.process([Incoming(Envelope(event))])
    return [reply.text for reply in outcome.replies]


async def twitch_whispers(runtime: Runtime) -> list[tuple[str, str]]:
    messages = await runtime.ports.bus.read(TWITCH_REPLIES, "fake-twitch", "fake", 100, 500)
    await runtime.ports.bus.ack(TWITCH_REPLIES, "fake-twitch", [m.id for m in messages])
    sent = [decode_outbound(m.data) for m in messages]
    assert all(m.visibility is Visibility.DIRECT and m.entity_id == "" for m in sent)
    return [(m.to_user, m.text) for m in sent]


async def test_link_console_and_twitch_accounts(linked_runtime: Runtime) -> None:
    rt = linked_runtime
    assert await on_twitch(rt, "hello chat") == []  # WaddleBot now knows alice_tw
    community = (await rt.directory.resolve_entity("twitch:1337", "twitch")).community_id
    twitch_user = await rt.directory.ensure_identity("twitch", "555")
    await rt.directory.set_role(community, twitch_user, "moderator")  # data of the Twitch side
    await rt.identity.create_key(twitch_user, "twitch-bot")

    assert await say(rt, "!identity link twitch @Alice_TW") == [
        "I sent a code to your twitch account by private message. "
        "Type !verify <code> there within 10 minutes."
    ]
    ((to_user, whisper),) = await twitch_whispers(rt)
    assert to_user == "555"
    code = re.search(r"!verify (\w+)", whisper).group(1)  # type: ignore[union-attr]
    assert len(code) == 8 and set(code) <= set(CODE_ALPHABET)
    assert whisper.startswith("alice on console wants to link your accounts.")

    assert await on_twitch(rt, "!verify NOTRIGHT") == [
        "@alice_tw, that code is wrong (4 tries left)."
    ]
    assert await on_twitch(rt, f"!verify {code.lower()}") == [
        "Linked! You are alice on console, alice_tw on twitch."
    ]
    assert await say(rt, "!whoami") == ["@alice, you are alice on console, alice_tw on twitch."]
    assert await on_twitch(rt, "!whoami") == [
        "@alice_tw, you are alice on console, alice_tw on twitch."
    ]
    alice = await rt.directory.ensure_identity("console", "alice")
    assert alice == await rt.directory.ensure_identity("twitch", "555")
    assert await rt.directory.member_role(community, alice) == "moderator"  # came along
    assert [k.name for k in await rt.identity.keys(alice)] == ["twitch-bot"]  # so did this

    assert await on_twitch(rt, f"!verify {code}") == [
        "@alice_tw, no link is waiting for you (codes last 10 minutes)."
    ]
    assert await say(rt, "!identity link twitch alice_tw") == [
        "@alice, alice_tw on twitch is linked to you already."
    ]
    assert await say(rt, "!identity unlink twitch") == ["Unlinked alice_tw on twitch."]
    assert await on_twitch(rt, "!whoami") == ["@alice_tw, you are alice_tw on twitch."]
    assert await say(rt, "!whoami") == ["@alice, you are alice on console."]


async def test_linking_to_strangers_and_unreachable_platforms(linked_runtime: Runtime) -> None:
    assert await say(linked_runtime, "!identity link twitch nobody") == [
        "@alice, I haven't seen nobody on twitch yet: say something where WaddleBot listens "
        "there first, then try again."
    ]
    assert await say(linked_runtime, "!identity link discord alice") == [
        "@alice, WaddleBot cannot send private messages on discord yet (its collector is not "
        "set up here), so it cannot send you a code there."
    ]
    usage = (
        "Usage: !identity link <platform> <username> | resend | unlink <platform> | "
        "apikey create [name] | apikey list | apikey revoke <name>"
    )
    assert await say(linked_runtime, "!identity link myspace alice") == [
        f"{usage} (the platform is one of console, twitch, discord, slack)"
    ]
    assert await say(linked_runtime, "!identity") == [
        f"{usage} (say what to do: link, resend, unlink or apikey)"
    ]
    assert await say(linked_runtime, "!identity unlink twitch") == [
        "@alice, you have no twitch account linked."
    ]


# -- the code rules, on the service with a controlled clock ------------------------------------


@pytest.fixture
async def codes(runtime: Runtime) -> tuple[IdentityService, ManualClock, int]:
    clock = ManualClock()
    service = IdentityService(
        runtime.db, runtime.ports.cache, runtime.audit, runtime.directory, clock
    )
    asker = await runtime.directory.ensure_identity("console", "asker")
    await runtime.directory.ensure_identity("twitch", "777", login="target")
    return service, clock, asker


async def test_five_wrong_codes_void_the_link(
    codes: tuple[IdentityService, ManualClock, int],
) -> None:
    service, _, asker = codes
    pending = await service.start_link(asker, "twitch", "777")
    for left in (4, 3, 2, 1):
        with pytest.raises(IdentityError, match=f"{left} tr"):
            await service.verify("twitch", "777", "WRONGONE")
    with pytest.raises(IdentityError, match="last try"):
        await service.verify("twitch", "777", "WRONGONE")
    with pytest.raises(IdentityError, match="no link is waiting"):
        await service.verify("twitch", "777", pending.code)


async def test_codes_expire_after_ten_minutes(
    codes: tuple[IdentityService, ManualClock, int],
) -> None:
    service, clock, asker = codes
    pending = await service.start_link(asker, "twitch", "777")
    clock.advance(minutes=10, seconds=1)
    with pytest.raises(IdentityError, match="no link is waiting"):
        await service.verify("twitch", "777", pending.code)
    fresh = await service.start_link(asker, "twitch", "777")
    clock.advance(minutes=9)
    assert await service.verify("twitch", "777", fresh.code) == asker


async def test_resend_waits_a_minute_and_voids_the_old_code(
    codes: tuple[IdentityService, ManualClock, int],
) -> None:
    service, clock, asker = codes
    with pytest.raises(IdentityError, match="no link waiting"):
        await service.resend(asker)
    first = await service.start_link(asker, "twitch", "777")
    clock.advance(seconds=30)
    with pytest.raises(IdentityError, match="wait 31s"):
        await service.resend(asker)
    clock.advance(seconds=31)
    second = await service.resend(asker)
    assert second.code != first.code and second.platform_user_id == "777"
    with pytest.raises(IdentityError, match="wrong"):
        await service.verify("twitch", "777", first.code)
    assert await service.verify("twitch", "777", second.code) == asker


async def test_codes_are_stored_only_as_hashes(
    runtime: Runtime, codes: tuple[IdentityService, ManualClock, int]
) -> None:
    from sqlalchemy import select

    from waddlebot.features.identity.models import LinkCode

    service, _, asker = codes
    pending = await service.start_link(asker, "twitch", "777")
    async with runtime.db.session() as session:
        rows = (await session.scalars(select(LinkCode))).all()
    assert rows and all(pending.code not in row.code_hash for row in rows)


async def test_what_a_linked_account_holds_made_and_joined_follows_the_person(
    runtime: Runtime, codes: tuple[IdentityService, ManualClock, int]
) -> None:
    """Linking merges the Twitch account's user into the asker's: the item it holds, its
    lendings, the event it made, the events it is going to (once, where both accounts were
    going) and its quotes are the asker's afterwards."""
    service, _, asker = codes
    twitch = await runtime.directory.ensure_identity("twitch", "777")
    place = await runtime.directory.resolve_entity("console:local", "console", channel_id="local")
    community = place.community_id
    inventory, calendar = runtime.inventory, runtime.calendar
    for item in ("camera", "tent"):
        await inventory.add(community, item)
        await inventory.checkout(community, item, twitch, "@target")
    await inventory.checkin(community, "tent")

    async def add_event(title: str, creator: int, *going: int) -> int:
        start = datetime.now(UTC) + timedelta(days=2)
        made = await calendar.add(
            community,
            NewEvent(title=title, starts_at=start, timezone="UTC"),
            creator_user_id=creator,
            creator_name="@someone",
            level=None,
        )
        for user in going:
            await calendar.join(community, made.id, user, f"@{user}")
        return made.id

    theirs = await add_event("Raid night", twitch, twitch)
    both = await add_event("Movie night", asker, asker, twitch)
    mine = await add_event("Quiz", asker, asker)
    twitch_author = Author(name="target", user_id=twitch, level=None, actor="target")
    quote = await runtime.memories.quotes.add(
        community, "gg", author=twitch_author, said_by=Speaker("target", twitch)
    )

    pending = await service.start_link(asker, "twitch", "777")
    assert await service.verify("twitch", "777", pending.code) == asker

    camera = await inventory.get(community, "camera")
    assert camera is not None and camera.holder_user_id == asker
    _, lendings = await inventory.history(community, "tent")
    assert [lending.user_id for lending in lendings] == [asker]
    made = await calendar.get(community, theirs)
    assert made is not None and made.creator_user_id == asker
    async with runtime.db.session() as session:
        going = set(
            (
                await session.execute(select(CalendarAttendee.event_id, CalendarAttendee.user_id))
            ).all()
        )
        assert await session.get(User, twitch) is None
    assert going == {(theirs, asker), (both, asker), (mine, asker)}
    assert [event.going for event, _ in await calendar.upcoming(community)] == [1, 1, 1]
    found = await runtime.memories.quotes.get(community, quote.number)
    assert found is not None and (found.said_by_user_id, found.added_by_user_id) == (asker, asker)
