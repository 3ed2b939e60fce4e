"""Spotify song requests end to end, embedded and distributed, against the fake Spotify
accounts service and Web API: a community's own app set over the API (its secret never shown
again), the streamer's account connected by OAuth from a link an admin gets in a private
message, Spotify links and search words played and queued on the streamer's own player, one
queue mixing YouTube and Spotify, the queue following what Spotify plays, and Spotify's
refusals (no Premium, no device, slow down) each one line."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from tests.fakes.spotify import COVERS, FakeSpotify, SpotifyApp, SpotifyTrack, SpotifyUser
from tests.fakes.youtube import API_KEY as YOUTUBE_KEY
from tests.fakes.youtube import FakeYouTube, Video
from tests.support.harness import free_port, say, serving
from tests.support.overlays import shown
from tests.support.spotify import connect_link
from waddlebot.features.music.feature import SONG_QUEUE
from waddlebot.features.music.spotify.wiring import SPOTIFY
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

API_KEY = "test-api-key-spotify-0123456789"
MOD = {"role": "moderator", "user": "mia"}
STREAMER = "olga-on-spotify"
PENGUIN = SpotifyTrack("1penguinPENGUINpenguin", "Penguin Parade", ["The Flippers"], 201_000)
ICEBERG = SpotifyTrack("2icebergICEBERGiceberg", "Iceberg Ahead", ["Cold Front"], 185_000)
KRILL = SpotifyTrack("3krillKRILLkrillKRILLk", "Krill Thrill", ["Deep Sea"], 240_000, explicit=True)
FAR = SpotifyTrack("4farFARfarFARfarFARfar", "Far Away Floe", ["Nomad"], 150_000, markets=["JP"])
OWN = SpotifyTrack("5ownOWNownOWNownOWNown", "Streamer's Own Playlist Song", ["Whoever"])
ICE = Video("iceiceBABY0", "Ice Ice Penguin", duration="PT4M13S")


@dataclass
class World:
    runtime: Runtime
    http: httpx2.AsyncClient
    spotify: FakeSpotify
    app: SpotifyApp
    streamer: SpotifyUser
    community: int

    @property
    def path(self) -> str:
        return f"/api/v1/music/communities/{self.community}/spotify"

    async def set_app(self, secret: str = "") -> httpx2.Response:
        body = {"client_id": self.app.client_id, "client_secret": secret or self.app.secret}
        return await self.http.put(f"{self.path}/app", json=body)

    async def connect(self) -> str:
        """``!sr spotify connect`` as the owner, then the link followed in a browser."""
        link = await connect_link(self.runtime)
        self.spotify.authorize_as(STREAMER)
        page = await self.http.get(link, follow_redirects=True)
        return page.text

    async def tick(self) -> None:
        await self.runtime.need(SPOTIFY).follower.tick()


async def owner(world: World, text: str) -> list[str]:
    return await say(world.runtime, text, user="olga", role="owner")


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with FakeSpotify() as spotify, FakeYouTube() as youtube:
        youtube.add(ICE)
        for track in (PENGUIN, ICEBERG, KRILL, FAR, OWN):
            spotify.add(track)
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        app = spotify.register_app([f"{public}/api/v1/music/spotify/oauth/callback"])
        streamer = spotify.add_user(STREAMER, "Olga")
        streamer.player.playing, streamer.player.is_playing = OWN.id, True
        configured = settings.model_copy(
            update={
                "api_key": SecretStr(API_KEY),
                "secret_keys": [SecretStr(SecretBox.generate_key())],
                "youtube_api_key": SecretStr(YOUTUBE_KEY),
                "youtube_api_url": youtube.url,
                "spotify_accounts_url": spotify.url,
                "spotify_api_url": spotify.url,
                "spotify_public_url": public,
                "scheduler_tick_seconds": 3600.0,  # the test moves the follower on itself
                "scheduler_lease_ttl_seconds": 7200.0,
                "module_timeout_seconds": 5.0,  # a short Retry-After is waited for
            }
        )
        async with (
            serving(configured, port=port) as (url, runtime),
            httpx2.AsyncClient(base_url=url, headers={"X-API-Key": API_KEY}) as http,
        ):
            community = await runtime.directory.resolve_entity("console:local", "console")
            world = World(runtime, http, spotify, app, streamer, community.community_id)
            assert await owner(world, "!module config music cooldown_seconds 0") == [
                "music: cooldown_seconds is now 0."
            ]
            yield world


async def connected(world: World) -> None:
    assert (await world.set_app()).status_code == 200
    assert "The Spotify account Olga is connected." in await world.connect()


async def test_the_app_is_set_over_the_api_and_its_secret_never_shown(world: World) -> None:
    assert await owner(world, "!sr spotify connect") == [
        "Spotify isn't set up here: an admin adds the community's Spotify app first."
    ]
    answer = await world.set_app()
    assert answer.status_code == 200
    shown: dict[str, Any] = answer.json()
    assert shown == {
        "client_id": world.app.client_id,
        "client_secret_set": True,
        "connected": False,
        "account_id": "",
        "account_name": "",
        "scopes": [],
        "redirect_uri": shown["redirect_uri"],
    }
    assert shown["redirect_uri"].endswith("/api/v1/music/spotify/oauth/callback")
    assert world.app.secret not in (await world.http.get(world.path)).text
    bad = await world.http.put(f"{world.path}/app", json={"client_id": "no spaces please"})
    assert bad.status_code == 422
    assert await say(world.runtime, "!sr spotify connect") == [
        "Only admins and the owner can use !sr spotify connect."
    ]


async def test_connecting_then_links_play_and_queue_on_the_streamers_spotify(
    world: World,
) -> None:
    await connected(world)
    status = (await world.http.get(world.path)).json()
    assert status["connected"] and status["account_name"] == "Olga"
    assert status["scopes"] == [
        "user-read-currently-playing",
        "user-read-playback-state",
        "user-modify-playback-state",
    ]
    assert await say(world.runtime, f"!sr https://open.spotify.com/track/{PENGUIN.id}?si=x") == [
        'Now playing "The Flippers - Penguin Parade" (3:21), requested by alice: '
        f"https://open.spotify.com/track/{PENGUIN.id}"
    ]
    player = world.streamer.player
    assert (player.playing, player.is_playing) == (PENGUIN.id, True)
    assert await say(world.runtime, f"!sr spotify:track:{ICEBERG.id}", user="bob") == [
        'Added "Cold Front - Iceberg Ahead" (3:05), up next.'
    ]
    await world.tick()
    assert player.queue == [ICEBERG.id]  # on Spotify's own queue, to follow without a gap
    await world.tick()
    assert player.queue == [ICEBERG.id]  # queued once
    world.spotify.finish(STREAMER)
    await world.tick()
    assert await say(world.runtime, "!song") == [
        'Now playing "Cold Front - Iceberg Ahead" (0:00 of 3:05), requested by bob: '
        f"https://open.spotify.com/track/{ICEBERG.id}"
    ]
    assert await owner(world, "!sr spotify status") == ["Spotify is connected: Olga's account."]


async def test_the_media_page_shows_a_spotify_song_and_song_says_how_far(world: World) -> None:
    await connected(world)
    await say(world.runtime, f"!sr spotify:track:{PENGUIN.id}")
    penguin = await world.runtime.need(SONG_QUEUE).playing(world.community)
    assert penguin is not None
    shows = {
        "type": "now_playing",
        "title": "Penguin Parade",
        "requested_by": "alice",
        "source": "spotify",  # the page shows it and leaves the playing to Spotify
        "media_id": PENGUIN.id,
        "song": penguin.id,
        "artist": "The Flippers",
        "cover": f"{COVERS}300{PENGUIN.id}",
        "duration": 201,
        "position": 0.0,
        "paused": False,
    }
    assert await shown(world.runtime, world.community, "media") == shows
    player = world.streamer.player
    player.progress_ms = 65_000  # the streamer skipped ahead on Spotify
    await world.tick()
    assert await shown(world.runtime, world.community, "media") == {**shows, "position": 65.0}
    player.is_playing = False  # and paused it there
    await world.tick()
    assert await shown(world.runtime, world.community, "media") == {
        **shows,
        "position": 65.0,
        "paused": True,
    }
    assert await say(world.runtime, "!song") == [
        'Now playing "The Flippers - Penguin Parade" (1:05 of 3:21, paused), requested by alice: '
        f"https://open.spotify.com/track/{PENGUIN.id}"
    ]
    await say(world.runtime, "!sr https://youtu.be/iceiceBABY0", user="bob")
    await say(world.runtime, "!skip", **MOD)
    youtube = await shown(world.runtime, world.community, "media")
    assert youtube is not None and youtube["source"] == "youtube"
    await say(world.runtime, f"!sr spotify:track:{ICEBERG.id}", user="carol")
    await say(world.runtime, "!skip", **MOD)
    iceberg = await shown(world.runtime, world.community, "media")
    assert iceberg is not None and iceberg["title"] == "Iceberg Ahead"
    await say(world.runtime, "!skip", **MOD)
    assert await shown(world.runtime, world.community, "media") is None  # the queue ended


async def test_search_words_go_to_spotify_when_the_community_says_so_in_one_queue(
    world: World,
) -> None:
    await connected(world)
    assert await say(world.runtime, "!sr https://youtu.be/iceiceBABY0") == [
        'Now playing "Ice Ice Penguin" (4:13), requested by alice: https://youtu.be/iceiceBABY0'
    ]
    assert await owner(world, "!module config music search_source spotify") == [
        "music: search_source is now spotify."
    ]
    assert await say(world.runtime, "!sr iceberg ahead", user="bob") == [
        'Added "Cold Front - Iceberg Ahead" (3:05), up next.'
    ]
    assert await say(world.runtime, "!sr nothing like it", user="bob") == [
        'I found nothing on Spotify for "nothing like it".'
    ]
    assert await say(world.runtime, "!queue", user="bob") == [
        'Next: 1. "Cold Front - Iceberg Ahead" (bob). Yours is #1.'
    ]
    await world.tick()
    assert world.streamer.player.playing == OWN.id  # Spotify is left alone while YouTube plays
    (skipped,) = await say(world.runtime, "!skip", **MOD)
    assert skipped.startswith('Skipped "Ice Ice Penguin". Now playing "Cold Front - Iceberg')
    await world.tick()
    assert world.streamer.player.playing == ICEBERG.id
    world.streamer.player.autoplay = [OWN.id]
    world.spotify.finish(STREAMER)  # Spotify moves on to music of its own choosing
    await world.tick()
    assert world.streamer.player.is_playing is False  # paused: the queue has nothing more
    assert await say(world.runtime, "!song") == [
        "Nothing is playing; !sr <search words | YouTube link | Spotify link> asks for a song."
    ]


async def test_spotify_is_paused_once_the_queue_moves_past_its_song(world: World) -> None:
    await connected(world)
    await say(world.runtime, f"!sr spotify:track:{PENGUIN.id}")
    await say(world.runtime, "!sr https://youtu.be/iceiceBABY0", user="bob")
    assert world.streamer.player.is_playing is True
    (skipped,) = await say(world.runtime, "!skip", **MOD)
    assert skipped.startswith('Skipped "The Flippers - Penguin Parade". Now playing "Ice Ice')
    assert world.streamer.player.is_playing is False  # at once, not over the YouTube song
    await world.tick()
    assert world.streamer.player.is_playing is False
    world.streamer.player.is_playing = True  # the streamer plays their own music: left alone
    await world.tick()
    assert world.streamer.player.is_playing is True


async def test_what_spotify_says_cannot_play_here_is_refused(world: World) -> None:
    await connected(world)
    assert await say(world.runtime, f"!sr spotify:track:{FAR.id}") == [
        '"Nomad - Far Away Floe" isn\'t available in US.'
    ]
    assert await say(world.runtime, "!sr spotify:track:0000000000000000000000") == [
        "That Spotify track doesn't exist."
    ]
    await owner(world, "!module config music spotify_explicit false")
    assert await say(world.runtime, f"!sr spotify:track:{KRILL.id}") == [
        '"Deep Sea - Krill Thrill" is marked explicit on Spotify, and explicit songs are off here.'
    ]


async def test_premium_and_a_device_are_needed_and_each_says_so(world: World) -> None:
    await connected(world)
    world.streamer.premium = False
    assert await say(world.runtime, f"!sr spotify:track:{PENGUIN.id}") == [
        'Now playing "The Flippers - Penguin Parade" (3:21), requested by alice: '
        f"https://open.spotify.com/track/{PENGUIN.id}",
        "Spotify lets only Premium accounts be controlled: the streamer's Spotify needs Premium "
        "for song requests to play.",
    ]
    world.streamer.premium = True
    world.streamer.player.device = False
    await world.tick()  # tried again, and still refused: nothing changes
    assert world.streamer.player.playing == OWN.id
    await say(world.runtime, "!skip", **MOD)
    assert await say(world.runtime, f"!sr spotify:track:{ICEBERG.id}") == [
        'Now playing "Cold Front - Iceberg Ahead" (3:05), requested by alice: '
        f"https://open.spotify.com/track/{ICEBERG.id}",
        "Spotify has no active device: the streamer should start playing something in "
        "Spotify, then try again.",
    ]
    world.streamer.player.device = True
    await world.tick()  # the streamer opened Spotify: the song starts
    assert world.streamer.player.playing == ICEBERG.id


async def test_a_short_wait_is_waited_a_long_one_is_said(world: World) -> None:
    await connected(world)
    world.spotify.throttle(retry_after=1)
    (played,) = await say(world.runtime, f"!sr spotify:track:{PENGUIN.id}")
    assert played.startswith('Now playing "The Flippers - Penguin Parade"')
    world.spotify.throttle(retry_after=30)
    assert await say(world.runtime, f"!sr spotify:track:{ICEBERG.id}") == [
        "Spotify asks the bot to slow down; try again in 30s."
    ]


async def test_tokens_are_refreshed_before_they_expire_and_when_refused(world: World) -> None:
    await connected(world)
    assert world.spotify.grants == ["authorization_code"]
    world.spotify.expire_tokens()
    (played,) = await say(world.runtime, f"!sr spotify:track:{PENGUIN.id}")
    assert played.startswith('Now playing "The Flippers - Penguin Parade"')
    assert world.spotify.grants == ["authorization_code", "refresh_token"]
    assert world.spotify.unauthorized == 1  # refused once, refreshed, tried again
    world.spotify.token_seconds = 30  # shorter than the margin: refreshed before each use
    world.spotify.expire_tokens()
    await say(world.runtime, f"!sr spotify:track:{ICEBERG.id}", user="bob")
    await say(world.runtime, f"!sr spotify:track:{KRILL.id}", user="carol")
    assert world.spotify.unauthorized == 2
    assert world.spotify.grants[2:] == ["refresh_token", "refresh_token"]


async def test_a_sign_in_is_bound_to_its_link_browser_and_community(world: World) -> None:
    assert (await world.set_app()).status_code == 200
    link = await connect_link(world.runtime)
    world.spotify.authorize_as(STREAMER)
    to_spotify = await world.http.get(link)
    assert to_spotify.status_code == 302
    back = await world.http.get(to_spotify.headers["location"])  # Spotify's redirect
    callback = back.headers["location"]
    async with httpx2.AsyncClient() as stranger:  # another browser, with the same callback
        refused = await stranger.get(callback)
    assert refused.status_code == 400 and "another browser" in refused.text
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    assert (await world.http.get(forged)).status_code == 400
    assert "is connected" in (await world.http.get(callback)).text
    again = await world.http.get(callback)
    assert again.status_code == 400 and "used already" in again.text
    reused = await world.http.get(link, follow_redirects=True)  # the link connects once
    assert reused.status_code == 400


async def test_a_link_connects_only_the_community_it_was_made_for(world: World) -> None:
    directory = world.runtime.directory
    other = (await directory.resolve_entity("twitch:200", "twitch", channel_id="200")).community_id
    assert other != world.community
    assert (await world.set_app()).status_code == 200
    theirs = f"/api/v1/music/communities/{other}/spotify"
    no_app = await world.http.post(f"{theirs}/connect")
    assert no_app.status_code == 422 and "isn't set up here" in no_app.text
    body = {"client_id": world.app.client_id, "client_secret": world.app.secret}
    assert (await world.http.put(f"{theirs}/app", json=body)).status_code == 200
    link = (await world.http.post(f"{theirs}/connect")).json()["url"]
    world.spotify.authorize_as(STREAMER)
    assert "is connected" in (await world.http.get(link, follow_redirects=True)).text
    assert (await world.http.get(theirs)).json()["connected"] is True
    assert (await world.http.get(world.path)).json()["connected"] is False
    assert await say(world.runtime, f"!sr spotify:track:{PENGUIN.id}") == [
        "Spotify isn't connected here yet: an admin types !sr spotify connect."
    ]
    # a state the Twitch flow sealed is no Spotify state
    box = SecretBox.from_settings(world.runtime.settings)
    twitch_state = box.seal("twitch-state", {"c": world.community, "n": "x", "b": ""})
    callback = f"/api/v1/music/spotify/oauth/callback?code=abc&state={twitch_state}"
    refused = await world.http.get(callback)
    assert refused.status_code == 400 and "not valid any more" in refused.text
    assert (await world.http.get(world.path)).json()["connected"] is False


async def test_the_player_is_steered_on_spotify(world: World) -> None:
    await connected(world)
    await say(world.runtime, f"!sr spotify:track:{PENGUIN.id}")
    player = world.streamer.player
    assert (player.playing, player.is_playing) == (PENGUIN.id, True)
    await say(world.runtime, "!pause", **MOD)
    assert player.is_playing is False
    shown_now = await shown(world.runtime, world.community, "media")
    assert shown_now is not None and shown_now["paused"] is True  # at once, not at a tick
    await say(world.runtime, "!play", **MOD)
    assert player.is_playing is True
    shown_now = await shown(world.runtime, world.community, "media")
    assert shown_now is not None and shown_now["paused"] is False
    await say(world.runtime, "!volume 35", **MOD)
    assert player.volume == 35
    playback = world.runtime.need(SPOTIFY).playback
    await playback.enqueue(world.community, KRILL.id)
    await playback.skip(world.community)
    assert player.playing == KRILL.id


async def test_secrets_stay_out_of_answers_and_logs(
    capsys: pytest.CaptureFixture[str], world: World
) -> None:
    await connected(world)
    wrong = await world.set_app(secret="not-the-secret-at-all")  # the same app, a wrong secret
    assert "not-the-secret-at-all" not in wrong.text
    world.spotify.expire_tokens()
    assert await say(world.runtime, f"!sr spotify:track:{PENGUIN.id}") == [
        "Spotify refused the streamer's sign-in: an admin types !sr spotify connect again."
    ]
    await world.connect()  # refused by Spotify: logged
    out = capsys.readouterr()
    everything = out.out + out.err + (await world.http.get(world.path)).text
    assert "spotify code exchange refused" in everything  # the logs were read
    for secret in [world.app.secret, "not-the-secret-at-all", *world.spotify.issued_secrets()]:
        assert secret not in everything


async def test_without_a_secret_key_a_spotify_app_is_refused_as_not_configured(
    settings: Settings, mode: str
) -> None:
    """The distributed mode has no key of its own to seal the client secret with: a 503 that
    names the setting, not a 500 (the embedded install makes its own key and takes it)."""
    configured = settings.model_copy(update={"api_key": SecretStr(API_KEY), "secret_keys": []})
    async with (
        serving(configured, port=free_port()) as (url, runtime),
        httpx2.AsyncClient(base_url=url, headers={"X-API-Key": API_KEY}) as http,
    ):
        community = await runtime.directory.resolve_entity("console:local", "console")
        answer = await http.put(
            f"/api/v1/music/communities/{community.community_id}/spotify/app",
            json={"client_id": "abc", "client_secret": "very-secret-value"},
        )
    if mode == "embedded":
        assert answer.status_code == 200
        return
    assert answer.status_code == 503
    problem = answer.json()
    assert (problem["code"], problem["setting"]) == ("not_configured", "WADDLEBOT_SECRET_KEYS")
    assert "very-secret-value" not in answer.text
