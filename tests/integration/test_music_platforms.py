"""One song queue per community, whichever platform a request comes from: a Twitch channel
and a Discord channel in one community (joined with a ``!community link`` code); viewers on
both ask for songs, and every place sees the same queue, in the order asked, with who asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import NamedTuple

import pytest

from tests.fakes.youtube import FakeYouTube
from tests.integration.test_community import code_in
from tests.integration.test_music import FISH, ICE, WADDLE, with_youtube
from tests.support.harness import chat_event
from waddlebot.core.contract import Visibility
from waddlebot.core.permissions import PlatformRole
from waddlebot.infra.codec import Envelope
from waddlebot.router.pipeline import Incoming
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings


class Person(NamedTuple):
    """Someone in one place: a Twitch channel or a Discord channel."""

    entity: str
    user_id: str
    login: str
    roles: tuple[PlatformRole, ...] = ()


TWITCH = "twitch:1337"
DISCORD = "discord:8800:8801"
STREAMER = Person(TWITCH, "1337", "streamer", (PlatformRole.OWNER,))
SERVER_OWNER = Person(DISCORD, "9000", "serverowner", (PlatformRole.OWNER,))
ALICE = Person(TWITCH, "42", "alice_tw")
# the same account number as alice's, on another platform: someone else all the same
DAN = Person(DISCORD, "42", "dan_dc")
CAROL = Person(TWITCH, "77", "carol_tw")


async def chat(runtime: Runtime, who: Person, text: str) -> list[str]:
    """``who`` says ``text`` in their place; what the bot answered there (private answers
    marked as the console marks them)."""
    event = chat_event(
        text,
        platform=who.entity.split(":")[0],
        entity=who.entity,
        user_id=who.user_id,
        login=who.login,
        roles=who.roles,
    )
    (outcome,) = await runtime.router.process([Incoming(Envelope(event))])
    return [
        ("(private) " if r.visibility is not Visibility.CHANNEL else "") + r.text
        for r in outcome.replies
    ]


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """A whole WaddleBot whose Twitch channel and Discord channel are one community."""
    async with FakeYouTube() as youtube:
        for video in (ICE, WADDLE, FISH):
            youtube.add(video)
        runtime = await Runtime.start(with_youtube(settings, youtube), ["router"])
        try:
            code = code_in(await chat(runtime, STREAMER, "!community link discord"))
            (joined,) = await chat(runtime, SERVER_OWNER, f"!community join {code}")
            assert joined.startswith("This place now belongs to")
            assert await chat(runtime, STREAMER, "!module config music cooldown_seconds 0") == [
                "music: cooldown_seconds is now 0."
            ]
            yield runtime
        finally:
            await runtime.stop()


async def test_one_queue_across_twitch_and_discord(runtime: Runtime) -> None:
    assert await chat(runtime, ALICE, "!sr https://youtu.be/iceiceBABY0") == [
        'Now playing "Ice Ice Penguin" (4:13), requested by alice_tw: https://youtu.be/iceiceBABY0'
    ]
    assert await chat(runtime, DAN, "!sr https://youtu.be/waddleWADDL") == [
        'Added "Waddle Waddle Song" (2:05), up next.'
    ]
    assert await chat(runtime, CAROL, "!sr https://www.youtube.com/watch?v=fishFISH123") == [
        'Added "Fish Are Friends" (3:00), #2 in line.'
    ]
    # asked on Discord: the Twitch requests are in it, in the order asked
    assert await chat(runtime, DAN, "!queue") == [
        'Next: 1. "Waddle Waddle Song" (dan_dc), 2. "Fish Are Friends" (carol_tw). Yours is #1.'
    ]
    assert await chat(runtime, ALICE, "!queue") == [
        'Next: 1. "Waddle Waddle Song" (dan_dc), 2. "Fish Are Friends" (carol_tw).'
    ]

    # the streamer moves on; Twitch is told the Discord viewer's song plays, and by whom
    assert await chat(runtime, STREAMER, "!skip") == [
        'Skipped "Ice Ice Penguin". Now playing "Waddle Waddle Song" (2:05), requested by '
        "dan_dc: https://youtu.be/waddleWADDL"
    ]
    assert await chat(runtime, CAROL, "!song") == [
        'Now playing "Waddle Waddle Song" (2:05), requested by dan_dc: https://youtu.be/waddleWADDL'
    ]

    # dan asks again from Discord, then takes it back: only his goes, not alice's (same number)
    assert await chat(runtime, ALICE, "!sr https://youtu.be/iceiceBABY0") == [
        'Added "Ice Ice Penguin" (4:13), #2 in line.'
    ]
    assert await chat(runtime, DAN, "!sr https://youtu.be/fishFISH123") == [
        'Added "Fish Are Friends" (3:00), #3 in line.'
    ]
    assert await chat(runtime, DAN, "!wrongsong") == ['Took "Fish Are Friends" out of the queue.']
    assert await chat(runtime, DAN, "!wrongsong") == ["You have no songs waiting in the queue."]
    assert await chat(runtime, DAN, "!queue") == [
        'Next: 1. "Fish Are Friends" (carol_tw), 2. "Ice Ice Penguin" (alice_tw).'
    ]


ALICE_ON_DISCORD = Person(DISCORD, "4242", "alice_dc")


async def test_a_person_linked_on_both_platforms_is_one_requester(runtime: Runtime) -> None:
    """Alice asks for a song on Discord, then links that account to her Twitch one: the song
    is hers on both, the limit per person counts it from either account, and from either
    she finds, takes back and skips her own."""
    assert await chat(runtime, STREAMER, "!module config music per_person 1") == [
        "music: per_person is now 1."
    ]
    assert await chat(runtime, ALICE, "hi") == []
    assert await chat(runtime, CAROL, "!sr https://youtu.be/iceiceBABY0") == [
        'Now playing "Ice Ice Penguin" (4:13), requested by carol_tw: https://youtu.be/iceiceBABY0'
    ]
    assert await chat(runtime, ALICE_ON_DISCORD, "!sr https://youtu.be/waddleWADDL") == [
        'Added "Waddle Waddle Song" (2:05), up next.'
    ]
    alice = await runtime.directory.ensure_identity("twitch", ALICE.user_id)
    link = await runtime.identity.start_link(alice, "discord", ALICE_ON_DISCORD.user_id)
    assert await runtime.identity.verify("discord", ALICE_ON_DISCORD.user_id, link.code) == alice

    # on Twitch now: the song she asked for on Discord is hers
    assert await chat(runtime, ALICE, "!sr https://youtu.be/fishFISH123") == [
        "You have 1 song in the queue, the most allowed here; !wrongsong takes your last one out."
    ]
    assert await chat(runtime, ALICE, "!queue") == [
        'Next: 1. "Waddle Waddle Song" (alice_dc). Yours is #1.'
    ]
    assert await chat(runtime, ALICE, "!wrongsong") == [
        'Took "Waddle Waddle Song" out of the queue.'
    ]
    assert await chat(runtime, ALICE_ON_DISCORD, "!sr https://youtu.be/fishFISH123") == [
        'Added "Fish Are Friends" (3:00), up next.'
    ]
    assert await chat(runtime, ALICE, "!sr https://youtu.be/waddleWADDL") == [
        "You have 1 song in the queue, the most allowed here; !wrongsong takes your last one out."
    ]
    await chat(runtime, STREAMER, "!skip")  # her song plays
    # asked for on Discord, skipped from Twitch at once: hers, not a viewer's vote
    (skipped,) = await chat(runtime, ALICE, "!skip")
    assert skipped.startswith('Skipped "Fish Are Friends".')
