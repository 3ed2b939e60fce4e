"""Song requests end to end, embedded and distributed, against the fake YouTube Data API:
``!sr`` by link and by search words (a search cached, not paid for twice), one queue for
everyone in the order asked, ``!song``, ``!queue``, ``!wrongsong``, ``!skip`` by a moderator
and by viewers' votes, the media overlay told what plays, each limit's one-line refusal,
and the day's quota spent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from tests.fakes.youtube import API_KEY, FakeYouTube, Video
from tests.support.harness import free_port, say, serving
from tests.support.overlays import open_feed, overlay_urls, shown, with_state
from waddlebot.core.overlay import PlayerReport
from waddlebot.features.music.feature import PLAYER, SONG_QUEUE
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

MOD = {"role": "moderator", "user": "mia"}
ICE = Video("iceiceBABY0", "Ice Ice Penguin", duration="PT4M13S")
WADDLE = Video("waddleWADDL", "Waddle Waddle Song", duration="PT2M5S")
FISH = Video("fishFISH123", "Fish Are Friends", duration="PT3M")
LONG = Video("longLONG123", "Penguin Symphony Full Concert", duration="PT1H2M3S")
LIVE = Video("liveLIVE123", "Penguin Cam Live", duration="P0D", live="live")
ADULT = Video("adultADULT1", "Penguin Party After Dark", age_restricted=True)
NO_EMBED = Video("noembedNO12", "Label Penguin Official", embeddable=False)
NOT_US = Video("notusNOTUS1", "Penguin Abroad", allowed=["DE", "FR"])
CATALOGUE = (ICE, WADDLE, FISH, LONG, LIVE, ADULT, NO_EMBED, NOT_US)
EMPTY = "Nothing is playing; !sr <search words | YouTube link | Spotify link> asks for a song."


@dataclass
class World:
    runtime: Runtime
    youtube: FakeYouTube
    community: int


async def owner(world: World, text: str) -> list[str]:
    return await say(world.runtime, text, user="olga", role="owner")


def with_youtube(settings: Settings, youtube: FakeYouTube, key: str = API_KEY) -> Settings:
    return settings.model_copy(
        update={
            "youtube_api_key": SecretStr(key),
            "youtube_api_url": youtube.url,
            "youtube_daily_units": 1_000,
        }
    )


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with FakeYouTube() as youtube:
        for video in CATALOGUE:
            youtube.add(video)
        runtime = await Runtime.start(with_youtube(settings, youtube), ["router", "console"])
        try:
            community = await runtime.directory.resolve_entity("console:local", "console")
            world = World(runtime, youtube, community.community_id)
            assert await owner(world, "!module config music cooldown_seconds 0") == [
                "music: cooldown_seconds is now 0."
            ]
            yield world
        finally:
            await runtime.stop()


async def media(world: World) -> dict[str, Any] | None:
    """What the media overlay shows now (the state a page opening now is sent)."""
    return await shown(world.runtime, world.community, "media")


async def test_a_link_plays_at_once_and_the_overlay_is_told(world: World) -> None:
    assert await say(world.runtime, "!sr https://youtu.be/iceiceBABY0") == [
        'Now playing "Ice Ice Penguin" (4:13), requested by alice: https://youtu.be/iceiceBABY0'
    ]
    ice = await world.runtime.need(SONG_QUEUE).playing(world.community)
    assert ice is not None
    assert await media(world) == {
        "type": "now_playing",
        "title": "Ice Ice Penguin",
        "requested_by": "alice",
        "source": "youtube",
        "media_id": "iceiceBABY0",
        "song": ice.id,
        "artist": "Some Channel",
        "cover": "https://i.ytimg.com/vi/iceiceBABY0/mqdefault.jpg",
        "duration": 253.0,
        "position": 0.0,
        "paused": False,
        "volume": 100,
    }
    assert world.youtube.calls == ["videos"]  # a link costs no search
    assert await say(world.runtime, "!song", user="bob") == [
        'Now playing "Ice Ice Penguin" (4:13), requested by alice: https://youtu.be/iceiceBABY0'
    ]


@pytest.mark.parametrize(
    "link",
    [
        "https://www.youtube.com/watch?v=waddleWADDL&t=42",
        "music.youtube.com/watch?v=waddleWADDL",
        "https://youtube.com/shorts/waddleWADDL",
        "https://m.youtube.com/watch?feature=share&v=waddleWADDL",
    ],
)
async def test_every_kind_of_link_is_read(world: World, link: str) -> None:
    (said,) = await say(world.runtime, f"!sr {link}")
    assert said.startswith('Now playing "Waddle Waddle Song" (2:05)')


async def test_search_words_queue_in_order_and_a_search_is_paid_once(world: World) -> None:
    assert await say(world.runtime, "!sr ice ice penguin") == [
        'Now playing "Ice Ice Penguin" (4:13), requested by alice: https://youtu.be/iceiceBABY0'
    ]
    assert await say(world.runtime, "!sr waddle song", user="bob") == [
        'Added "Waddle Waddle Song" (2:05), up next.'
    ]
    assert await say(world.runtime, "!sr Ice  ICE penguin", user="carol") == [
        'Added "Ice Ice Penguin" (4:13), #2 in line.'
    ]
    assert await say(world.runtime, "!sr fish friends") == [
        'Added "Fish Are Friends" (3:00), #3 in line.'
    ]
    assert world.youtube.units_used == 3 * 100 + 4  # the same words again: the cached search
    assert await say(world.runtime, "!queue") == [
        'Next: 1. "Waddle Waddle Song" (bob), 2. "Ice Ice Penguin" (carol), '
        '3. "Fish Are Friends" (alice). Yours is #3.'
    ]
    assert await say(world.runtime, "!sr nothing like this") == [
        'I found nothing on YouTube for "nothing like this".'
    ]


async def test_wrongsong_takes_your_last_one_out(world: World) -> None:
    await say(world.runtime, "!sr https://youtu.be/iceiceBABY0")
    await say(world.runtime, "!sr https://youtu.be/waddleWADDL")
    await say(world.runtime, "!sr https://youtu.be/fishFISH123", user="bob")
    assert await say(world.runtime, "!wrongsong") == ['Took "Waddle Waddle Song" out of the queue.']
    assert await say(world.runtime, "!wrongsong") == ["You have no songs waiting in the queue."]
    assert await say(world.runtime, "!queue", user="bob") == [
        'Next: 1. "Fish Are Friends" (bob). Yours is #1.'
    ]


async def test_skip_by_a_moderator_and_by_votes(world: World) -> None:
    await say(world.runtime, "!sr https://youtu.be/iceiceBABY0")
    await say(world.runtime, "!sr https://youtu.be/waddleWADDL", user="bob")
    await say(world.runtime, "!sr https://youtu.be/fishFISH123", user="carol")
    assert await say(world.runtime, "!skip", **MOD) == [
        'Skipped "Ice Ice Penguin". Now playing "Waddle Waddle Song" (2:05), requested by bob: '
        "https://youtu.be/waddleWADDL"
    ]
    assert (await media(world) or {}).get("media_id") == "waddleWADDL"
    assert await owner(world, "!module config music skip_votes 2") == [
        "music: skip_votes is now 2."
    ]
    assert await say(world.runtime, "!skip", user="dave") == [
        'Vote to skip "Waddle Waddle Song": 1/2.'
    ]
    assert await say(world.runtime, "!skip", user="dave") == [
        'You voted to skip "Waddle Waddle Song" already.'
    ]
    assert await say(world.runtime, "!skip", user="erin") == [
        'Skipped "Waddle Waddle Song". Now playing "Fish Are Friends" (3:00), requested by '
        "carol: https://youtu.be/fishFISH123"
    ]
    assert await say(world.runtime, "!skip", user="carol") == [
        'Skipped "Fish Are Friends". The queue is empty.'
    ]
    assert await media(world) is None
    assert await say(world.runtime, "!song") == [
        "Nothing is playing; !sr <search words | YouTube link | Spotify link> asks for a song."
    ]


async def test_the_players_report_of_an_end_starts_the_next_once(world: World) -> None:
    await say(world.runtime, "!sr https://youtu.be/iceiceBABY0")
    await say(world.runtime, "!sr https://youtu.be/waddleWADDL", user="bob")
    ice = await world.runtime.need(SONG_QUEUE).playing(world.community)
    assert ice is not None
    player = world.runtime.need(PLAYER)
    waddle = await player.ended(world.community, ice.id)
    assert waddle is not None and waddle.title == "Waddle Waddle Song"
    assert await player.ended(world.community, ice.id) == waddle  # told twice: no change
    assert (await media(world) or {}).get("media_id") == "waddleWADDL"
    assert await player.ended(world.community, waddle.id) is None
    assert await media(world) is None
    assert await say(world.runtime, "!song") == [
        "Nothing is playing; !sr <search words | YouTube link | Spotify link> asks for a song."
    ]


async def test_what_youtube_says_cannot_play_here_is_refused(world: World) -> None:
    refusals = {
        "liveLIVE123": '"Penguin Cam Live" is a live stream; only videos can be requested.',
        "adultADULT1": '"Penguin Party After Dark" is age-restricted on YouTube, so it can\'t '
        "play here.",
        "noembedNO12": '"Label Penguin Official" can\'t be played outside YouTube: its owner '
        "turned embedding off.",
        "notusNOTUS1": '"Penguin Abroad" isn\'t available in US.',
        "longLONG123": '"Penguin Symphony Full Concert" is 1:02:03 long; songs here may be up '
        "to 10:00.",
        "missingVID1": "That YouTube video doesn't exist or is private.",
    }
    for video_id, refusal in refusals.items():
        assert await say(world.runtime, f"!sr https://youtu.be/{video_id}") == [refusal]
    assert await say(world.runtime, "!song") == [
        "Nothing is playing; !sr <search words | YouTube link | Spotify link> asks for a song."
    ]
    assert await owner(world, "!module config music region DE") == ["music: region is now DE."]
    (said,) = await say(world.runtime, "!sr https://youtu.be/notusNOTUS1")
    assert said.startswith('Now playing "Penguin Abroad"')


async def test_the_communitys_limits_each_say_why(world: World) -> None:
    for key, value in [("per_person", 2), ("max_queue", 3)]:
        await owner(world, f"!module config music {key} {value}")
    await say(world.runtime, "!sr https://youtu.be/iceiceBABY0")
    await say(world.runtime, "!sr https://youtu.be/waddleWADDL")
    assert await say(world.runtime, "!sr https://youtu.be/fishFISH123") == [
        "You have 2 songs in the queue, the most allowed here; !wrongsong takes your last one out."
    ]
    await say(world.runtime, "!sr https://youtu.be/fishFISH123", user="bob")
    assert await say(world.runtime, "!sr https://youtu.be/fishFISH123", user="carol") == [
        "The queue is full (3 songs); try again once some have played."
    ]
    await owner(world, "!module config music min_level subscriber")
    assert await say(world.runtime, "!sr https://youtu.be/fishFISH123", user="dave") == [
        "Only subscribers and up can request songs here."
    ]
    await owner(world, "!module config music min_level everyone")
    await owner(world, "!module config music cooldown_seconds 60")
    await say(world.runtime, "!wrongsong", user="bob")
    await say(world.runtime, "!sr https://youtu.be/fishFISH123", user="bob")
    (wait,) = await say(world.runtime, "!sr https://youtu.be/waddleWADDL", user="bob")
    assert wait.startswith("Wait ") and wait.endswith("s before your next request.")
    await owner(world, "!module config music cooldown_seconds 0")
    await owner(world, "!module config music max_queue 10")
    await owner(world, '!module config music banned_words ["friends", "ice ice"]')
    assert await say(world.runtime, "!sr https://youtu.be/fishFISH123", user="erin") == [
        '"Fish Are Friends" has a word in its title that is not allowed in song requests here.'
    ]
    await owner(world, '!module config music banned_words ["friend"]')  # whole words only
    (added,) = await say(world.runtime, "!sr https://youtu.be/fishFISH123", user="erin")
    assert added.startswith('Added "Fish Are Friends"')


async def test_moderators_close_open_and_clear_the_queue(world: World) -> None:
    assert await say(world.runtime, "!sr close") == ["Only moderators and up can use !sr close."]
    assert await say(world.runtime, "!sr close", **MOD) == ["Song requests are closed."]
    assert await say(world.runtime, "!sr https://youtu.be/iceiceBABY0") == [
        "Song requests are closed right now."
    ]
    assert world.youtube.units_used == 0  # refused before YouTube is asked
    assert await say(world.runtime, "!sr open", **MOD) == [
        "Song requests are open: !sr <search words | YouTube link | Spotify link>."
    ]
    await say(world.runtime, "!sr https://youtu.be/iceiceBABY0")
    await say(world.runtime, "!sr https://youtu.be/waddleWADDL", user="bob")
    assert await say(world.runtime, "!sr clear", **MOD) == ["Cleared the queue (2 songs)."]
    assert await media(world) is None
    assert await say(world.runtime, "!queue") == [
        "The queue is empty; !sr <search words | YouTube link | Spotify link> adds a song."
    ]
    (usage,) = await say(world.runtime, "!sr")
    assert "search words, or a YouTube or Spotify link" in usage


async def test_the_days_quota_spent_is_one_line(world: World) -> None:
    world.youtube.daily_units = 150  # YouTube's own count, which the bot cannot see
    await say(world.runtime, "!sr ice ice penguin")
    assert await say(world.runtime, "!sr fish friends", user="bob") == [
        "Today's YouTube quota is spent: song requests are back after midnight Pacific time."
    ]
    calls = list(world.youtube.calls)
    assert await say(world.runtime, "!sr https://youtu.be/waddleWADDL", user="bob") == [
        "Today's YouTube quota is spent: song requests are back after midnight Pacific time."
    ]
    assert world.youtube.calls == calls  # the bot stopped asking


async def test_the_queue_outlives_a_restart_and_a_bad_key_is_one_line(settings: Settings) -> None:
    async with FakeYouTube() as youtube:
        youtube.add(ICE)
        youtube.add(WADDLE)
        runtime = await Runtime.start(with_youtube(settings, youtube), ["router", "console"])
        try:
            await say(runtime, "!sr https://youtu.be/iceiceBABY0")
            await say(runtime, "!sr https://youtu.be/waddleWADDL", user="bob")
        finally:
            await runtime.stop()
        wrong = with_youtube(settings, youtube, key="AIzaNotTheKey")
        runtime = await Runtime.start(wrong, ["router", "console"])
        try:
            (playing,) = await say(runtime, "!song")
            assert playing.startswith('Now playing "Ice Ice Penguin"')
            assert await say(runtime, "!queue", user="bob") == [
                'Next: 1. "Waddle Waddle Song" (bob). Yours is #1.'
            ]
            assert await say(runtime, "!sr https://youtu.be/fishFISH123", user="carol") == [
                "YouTube refused the bot's API key; the operator should check it."
            ]
        finally:
            await runtime.stop()


async def audited(world: World) -> list[tuple[str, str, str]]:
    """The music actions audited here, oldest first: (action, actor, target)."""
    await world.runtime.audit.flush()
    entries = await world.runtime.audit.recent(100, community_id=world.community)
    return [
        (e.action, e.actor, e.target) for e in reversed(entries) if e.action.startswith("music.")
    ]


async def test_moderators_pause_resume_and_set_the_volume(world: World) -> None:
    assert await say(world.runtime, "!pause", **MOD) == [EMPTY]
    assert await say(world.runtime, "!volume") == ["The volume is 100."]
    await say(world.runtime, "!sr https://youtu.be/iceiceBABY0")
    ice = await world.runtime.need(SONG_QUEUE).playing(world.community)
    assert ice is not None
    assert await say(world.runtime, "!pause") == ["@alice, !pause is for moderator level and up."]
    assert await say(world.runtime, "!volume 5") == ["Only moderators and up can use !volume."]
    assert await say(world.runtime, "!pause", **MOD) == ['Paused "Ice Ice Penguin"; !play goes on.']
    assert (await media(world) or {}).get("paused") is True
    assert await say(world.runtime, "!volume 35%", **MOD) == ["The volume is 35 now."]
    shown = await media(world) or {}
    assert (shown.get("volume"), shown.get("paused"), shown.get("song")) == (35, True, ice.id)
    assert await say(world.runtime, "!volume", user="bob") == ["The volume is 35."]
    assert await say(world.runtime, "!play", **MOD) == ['Playing "Ice Ice Penguin" again.']
    assert (await media(world) or {}).get("paused") is False
    for bad in ("!volume 101", "!volume loud", "!volume -3", "!volume 5 6"):
        (usage,) = await say(world.runtime, bad, **MOD)
        assert "the volume is a number from 0 to 100" in usage, usage
    # the next song plays as loud as set
    await say(world.runtime, "!sr https://youtu.be/waddleWADDL", user="bob")
    await say(world.runtime, "!skip", **MOD)
    assert (await media(world) or {}).get("volume") == 35
    actions = await audited(world)
    assert len({actor for _, actor, _ in actions}) == 1 and actions[0][1]  # mia did each
    assert [(a, t) for a, _, t in actions] == [
        ("music.pause", f"song:{ice.id}"),
        ("music.volume", "volume"),
        ("music.resume", f"song:{ice.id}"),
        ("music.skip", f"song:{ice.id}"),
    ]


async def test_the_players_progress_is_what_song_says(world: World) -> None:
    await say(world.runtime, "!sr https://youtu.be/iceiceBABY0")
    ice = await world.runtime.need(SONG_QUEUE).playing(world.community)
    assert ice is not None
    player = world.runtime.need(PLAYER)
    progress = PlayerReport(type="player", song=ice.id, state="progress", position=130.4)
    await player.report(world.community, progress)
    (said,) = await say(world.runtime, "!song")
    assert said.startswith('Now playing "Ice Ice Penguin" (2:1')  # 2:10, and on since
    assert said.endswith(" of 4:13), requested by alice: https://youtu.be/iceiceBABY0")
    await say(world.runtime, "!pause", **MOD)
    (paused,) = await say(world.runtime, "!song")
    assert ", paused)" in paused
    # another song's report, or a report after the end, changes nothing
    await player.report(world.community, progress.model_copy(update={"song": ice.id + 1}))
    ended = PlayerReport(type="player", song=ice.id, state="ended")
    await player.report(world.community, ended)
    await player.report(world.community, ended)
    assert await say(world.runtime, "!song") == [EMPTY]


async def test_banned_songs_channels_and_people_are_refused_with_why(world: World) -> None:
    world.youtube.add(Video("otherOTHER1", "Other Penguin Tune", channel="Noisy Birds"))
    assert await say(world.runtime, "!sr ban https://youtu.be/iceiceBABY0") == [
        "Only moderators and up can use !sr ban."
    ]
    assert await say(world.runtime, "!sr ban https://youtu.be/iceiceBABY0", **MOD) == [
        'The song "Ice Ice Penguin" is banned from song requests.'
    ]
    assert await say(world.runtime, "!sr ban https://youtu.be/iceiceBABY0", **MOD) == [
        'The song "Ice Ice Penguin" is banned from song requests already.'
    ]
    assert await say(world.runtime, "!sr ban noisy  BIRDS", **MOD) == [
        "The channel noisy BIRDS is banned from song requests."
    ]
    await say(world.runtime, "!sr hello", user="carol")  # carol is known here now
    assert await say(world.runtime, "!sr ban @carol", **MOD) == [
        "carol is banned from song requests."
    ]
    assert await say(world.runtime, "!sr https://youtu.be/iceiceBABY0") == [
        '"Ice Ice Penguin" is banned from song requests here.'
    ]
    assert await say(world.runtime, "!sr https://youtu.be/otherOTHER1") == [
        '"Other Penguin Tune" is by Noisy Birds, banned from song requests here.'
    ]
    units = world.youtube.units_used
    assert await say(world.runtime, "!sr https://youtu.be/waddleWADDL", user="carol") == [
        "A moderator banned you from song requests here."
    ]
    assert world.youtube.units_used == units  # refused before YouTube is asked
    assert await say(world.runtime, "!sr unban @carol", **MOD) == ["carol may request songs again."]
    assert await say(world.runtime, "!sr unban https://youtu.be/iceiceBABY0", **MOD) == [
        'The song "Ice Ice Penguin" may be requested again.'
    ]
    assert await say(world.runtime, "!sr unban Some Channel", **MOD) == [
        "The channel Some Channel isn't banned from song requests."
    ]
    (playing,) = await say(world.runtime, "!sr https://youtu.be/iceiceBABY0")
    assert playing.startswith('Now playing "Ice Ice Penguin"')
    (usage,) = await say(world.runtime, "!sr ban", **MOD)
    assert "!sr ban <song link | channel name | @person>" in usage
    # on the console a name is the account, so anyone named is someone
    assert await say(world.runtime, "!sr ban @nobody_here", **MOD) == [
        "nobody_here is banned from song requests."
    ]
    actions = [(a, t) for a, _, t in await audited(world)]
    assert actions[:6] == [
        ("music.ban", "song:youtube:iceiceBABY0"),
        ("music.ban", "channel:noisy birds"),
        ("music.ban", "person:console:carol"),
        ("music.unban", "person:console:carol"),
        ("music.unban", "song:youtube:iceiceBABY0"),
        ("music.ban", "person:console:nobody_here"),
    ]


async def test_a_media_page_reports_only_on_its_own_communitys_song(settings: Settings) -> None:
    """Over the overlay WebSocket, as the page's player reports: a report counts from a
    media page of the community whose song it names, and only then."""
    async with FakeYouTube() as youtube:
        youtube.add(ICE)
        youtube.add(WADDLE)
        port = free_port()
        configured = with_youtube(settings, youtube).model_copy(
            update={
                "overlay_public_url": f"http://127.0.0.1:{port}",
                "secret_keys": [SecretStr(SecretBox.generate_key())],
            }
        )
        async with serving(configured, port=port) as (base, runtime):
            await say(runtime, "!sr https://youtu.be/iceiceBABY0")
            await say(runtime, "!sr https://youtu.be/waddleWADDL", user="bob")
            here = await runtime.directory.resolve_entity("console:local", "console")
            queue = runtime.need(SONG_QUEUE)
            ice = await queue.playing(here.community_id)
            assert ice is not None
            urls = await overlay_urls(runtime)
            other = await runtime.directory.resolve_entity("console:elsewhere", "console")
            assert other.community_id != here.community_id
            token = await runtime.overlay_tokens.current(other.community_id, actor="test")
            ended = orjson.dumps({"type": "player", "song": ice.id, "state": "ended"}).decode()
            for url in (f"{base}/overlay/{token}/media", urls["ticker"]):
                feed = await open_feed(url)
                await feed.socket.send(ended)  # another community's page, or another kind
                await feed.socket.send('{"type":"pong"}')
                await feed.socket.close()
            media_page = await with_state(urls["media"])
            assert media_page.state[0]["data"]["song"] == ice.id  # what the page plays
            for nonsense in ('{"type":"player","song":"x"}', "[1]", '{"type":"player"'):
                await media_page.socket.send(nonsense)
            await media_page.socket.send(ended)
            waddle = await media_page.next()  # the next song's update: the report counted
            assert waddle["data"].get("media_id") == "waddleWADDL", waddle
            playing = await queue.playing(here.community_id)
            assert playing is not None and playing.title == "Waddle Waddle Song"
            await media_page.socket.close()
