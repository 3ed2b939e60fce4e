"""The song requests' moderator API over real HTTP, embedded and distributed, with songs
asked for in chat against the fake YouTube: the queue and what plays, a song taken out,
skipping, pausing and playing on, the volume, opening and closing, clearing, the bans; the
moderator role as in chat, the audit rows chat writes, clear 404/409/422s, and one
community's callers never reaching another's queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from tests.fakes.youtube import FakeYouTube, Video
from tests.integration.test_memories_api import user_key
from tests.integration.test_music import with_youtube
from tests.support.harness import say, serving
from tests.support.overlays import shown
from waddlebot.features.music.feature import SONG_QUEUE
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

ICE = Video("iceiceBABY0", "Ice Ice Penguin", duration="PT4M13S")
WADDLE = Video("waddleWADDL", "Waddle Waddle Song", duration="PT2M5S")
FISH = Video("fishFISH123", "Fish Are Friends", duration="PT3M", channel="Noisy Birds")


@dataclass
class World:
    http: httpx2.AsyncClient
    runtime: Runtime
    youtube: FakeYouTube
    home: int
    away: int
    moderator: dict[str, str]
    member: dict[str, str]
    away_moderator: dict[str, str]

    @property
    def base(self) -> str:
        return f"/api/v1/music/communities/{self.home}"

    async def call(self, method: str, path: str, **options: Any) -> httpx2.Response:
        return await self.http.request(
            method, f"{self.base}{path}", headers=self.moderator, **options
        )

    async def queue(self) -> dict[str, Any]:
        answer = await self.call("GET", "/queue")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def audited(self) -> list[tuple[str, str, str]]:
        await self.runtime.audit.flush()
        entries = await self.runtime.audit.recent(100, community_id=self.home)
        return [
            (e.action, e.actor, e.target)
            for e in reversed(entries)
            if e.action.startswith("music.")
        ]


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with FakeYouTube() as youtube:
        for video in (ICE, WADDLE, FISH):
            youtube.add(video)
        async with (
            serving(with_youtube(settings, youtube)) as (url, runtime),
            httpx2.AsyncClient(base_url=url) as http,
        ):
            directory = runtime.directory
            home = (await directory.resolve_entity("console:local", "console")).community_id
            away = (await directory.resolve_entity("console:away", "console")).community_id
            mo = await directory.ensure_identity("console", "mo", login="mo")
            bob = await directory.ensure_identity("console", "bob", login="bob")
            await directory.set_role(home, mo, "moderator")
            await directory.set_role(home, bob, "member")
            await directory.set_role(away, bob, "moderator")
            owner = {"user": "olga", "role": "owner"}
            assert await say(runtime, "!module config music cooldown_seconds 0", **owner) == [
                "music: cooldown_seconds is now 0."
            ]
            bobs = await user_key(runtime, bob)
            yield World(http, runtime, youtube, home, away, await user_key(runtime, mo), bobs, bobs)


async def three_songs(world: World) -> None:
    await say(world.runtime, "!sr https://youtu.be/iceiceBABY0")
    await say(world.runtime, "!sr https://youtu.be/waddleWADDL", user="bob")
    await say(world.runtime, "!sr https://youtu.be/fishFISH123", user="carol")


async def test_the_queue_and_what_plays_as_a_moderator_sees_them(world: World) -> None:
    assert await world.queue() == {"open": True, "volume": 100, "playing": None, "songs": []}
    await three_songs(world)
    queue = await world.queue()
    playing = queue["playing"]
    assert {k: playing[k] for k in ("title", "source", "duration", "requester", "paused")} == {
        "title": "Ice Ice Penguin",
        "source": "youtube",
        "duration": 253,
        "requester": {"platform": "console", "name": "alice"},
        "paused": False,
    }
    assert playing["link"] == "https://youtu.be/iceiceBABY0"
    assert [(s["title"], s["requester"]["name"], s["duration"]) for s in queue["songs"]] == [
        ("Waddle Waddle Song", "bob", 125),
        ("Fish Are Friends", "carol", 180),
    ]
    assert queue["songs"][1]["channel"] == "Noisy Birds"


async def test_only_moderators_of_the_community_reach_its_queue(world: World) -> None:
    await three_songs(world)
    home = world.base
    for method, path, body in [
        ("GET", "/queue", None),
        ("POST", "/skip", None),
        ("PUT", "/volume", {"volume": 5}),
        ("PUT", "/open", {"open": False}),
        ("POST", "/pause", None),
        ("DELETE", "/queue", None),
        ("GET", "/bans", None),
        ("POST", "/bans", {"target": "Noisy Birds"}),
    ]:
        for key in (world.member, world.away_moderator):  # bob: a member here, mod away
            answer = await world.http.request(method, f"{home}{path}", headers=key, json=body)
            assert answer.status_code == 403, (method, path, answer.text)
            assert answer.json()["code"] == "forbidden"
        signed_out = await world.http.request(method, f"{home}{path}", json=body)
        assert signed_out.status_code == 401
    away = await world.http.get(
        f"/api/v1/music/communities/{world.away}/queue", headers=world.away_moderator
    )
    assert away.json()["playing"] is None  # the other community's queue is its own
    assert len((await world.queue())["songs"]) == 2
    assert await world.audited() == []


async def test_a_moderator_takes_out_skips_pauses_and_sets_the_volume(world: World) -> None:
    await three_songs(world)
    queue = world.runtime.need(SONG_QUEUE)
    ice, waddle, fish = await queue.songs(world.home)
    gone = await world.call("DELETE", f"/queue/{waddle.id}")
    assert gone.status_code == 204
    assert [s["title"] for s in (await world.queue())["songs"]] == ["Fish Are Friends"]
    again = await world.call("DELETE", f"/queue/{waddle.id}")
    assert (again.status_code, again.json()["code"]) == (404, "not_found")
    assert "no song #" in again.json()["detail"]
    playing = await world.call("DELETE", f"/queue/{ice.id}")
    assert (playing.status_code, playing.json()["code"]) == (409, "conflict")
    assert "skip it instead" in playing.json()["detail"]
    junk = await world.call("DELETE", "/queue/abc")
    assert (junk.status_code, junk.json()["code"]) == (422, "validation_failed")

    paused = await world.call("POST", "/pause")
    assert paused.status_code == 200 and paused.json()["playing"]["paused"] is True
    assert (await shown(world.runtime, world.home, "media") or {}).get("paused") is True
    played = await world.call("POST", "/play")
    assert played.json()["playing"]["paused"] is False
    loud = await world.call("PUT", "/volume", json={"volume": 35})
    assert loud.status_code == 200 and loud.json()["volume"] == 35
    assert (await shown(world.runtime, world.home, "media") or {}).get("volume") == 35
    for wrong in (101, -1, "loud"):
        refused = await world.call("PUT", "/volume", json={"volume": wrong})
        assert (refused.status_code, refused.json()["code"]) == (422, "validation_failed")
    assert await say(world.runtime, "!volume") == ["The volume is 35."]

    skipped = await world.call("POST", "/skip")
    assert skipped.status_code == 200
    assert skipped.json()["skipped"]["title"] == "Ice Ice Penguin"
    assert skipped.json()["playing"]["title"] == "Fish Are Friends"
    assert skipped.json()["refused"] == ""
    assert (await shown(world.runtime, world.home, "media") or {}).get("media_id") == "fishFISH123"
    (said,) = await say(world.runtime, "!song")
    assert said.startswith('Now playing "Fish Are Friends"')
    await world.call("POST", "/skip")
    for nothing in ("/skip", "/pause", "/play"):
        answer = await world.call("POST", nothing)
        assert (answer.status_code, answer.json()["detail"]) == (409, "nothing is playing")

    actions = await world.audited()
    assert len({actor for _, actor, _ in actions}) == 1  # mo did each
    assert [(a, t) for a, _, t in actions] == [
        ("music.remove", f"song:{waddle.id}"),
        ("music.pause", f"song:{ice.id}"),
        ("music.resume", f"song:{ice.id}"),
        ("music.volume", "volume"),
        ("music.skip", f"song:{ice.id}"),
        ("music.skip", f"song:{fish.id}"),
    ]


async def test_requests_close_and_open_and_the_queue_clears(world: World) -> None:
    closed = await world.call("PUT", "/open", json={"open": False})
    assert closed.status_code == 200 and closed.json()["open"] is False
    assert await say(world.runtime, "!sr https://youtu.be/iceiceBABY0") == [
        "Song requests are closed right now."
    ]
    await world.call("PUT", "/open", json={"open": True})
    await three_songs(world)
    cleared = await world.call("DELETE", "/queue")
    assert cleared.status_code == 200 and cleared.json() == {"removed": 3}
    assert await shown(world.runtime, world.home, "media") is None
    assert [(a, t) for a, _, t in await world.audited()] == [
        ("music.close", "queue"),
        ("music.open", "queue"),
        ("music.clear", "queue"),
    ]


async def test_bans_are_listed_added_and_lifted_as_in_chat(world: World) -> None:
    assert (await world.call("GET", "/bans")).json() == {"bans": []}
    song = await world.call("POST", "/bans", json={"target": "https://youtu.be/iceiceBABY0"})
    assert song.status_code == 201, song.text
    assert {k: song.json()[k] for k in ("kind", "value", "label")} == {
        "kind": "song",
        "value": "youtube:iceiceBABY0",
        "label": '"Ice Ice Penguin"',
    }
    twice = await world.call("POST", "/bans", json={"target": "https://youtu.be/iceiceBABY0"})
    assert (twice.status_code, twice.json()["code"]) == (409, "conflict")
    channel = await world.call("POST", "/bans", json={"target": "noisy  BIRDS"})
    assert channel.json()["value"] == "noisy birds"
    nowhere = await world.call("POST", "/bans", json={"target": "@carol"})
    assert (nowhere.status_code, nowhere.json()["code"]) == (422, "invalid_request")
    assert "on which platform" in nowhere.json()["detail"]
    person = await world.call("POST", "/bans", json={"target": "@carol", "platform": "console"})
    assert person.json()["value"] == "console:carol"
    empty = await world.call("POST", "/bans", json={"target": ""})
    assert empty.status_code == 422

    assert await say(world.runtime, "!sr https://youtu.be/iceiceBABY0") == [
        '"Ice Ice Penguin" is banned from song requests here.'
    ]
    assert await say(world.runtime, "!sr https://youtu.be/fishFISH123") == [
        '"Fish Are Friends" is by Noisy Birds, banned from song requests here.'
    ]
    assert await say(world.runtime, "!sr https://youtu.be/waddleWADDL", user="carol") == [
        "A moderator banned you from song requests here."
    ]
    listed = (await world.call("GET", "/bans")).json()["bans"]
    assert [b["kind"] for b in listed] == ["person", "channel", "song"]  # newest first
    lifted = await world.call("DELETE", f"/bans/{person.json()['id']}")
    assert lifted.status_code == 204
    gone = await world.call("DELETE", f"/bans/{person.json()['id']}")
    assert (gone.status_code, gone.json()["code"]) == (404, "not_found")
    (playing,) = await say(world.runtime, "!sr https://youtu.be/waddleWADDL", user="carol")
    assert playing.startswith('Now playing "Waddle Waddle Song"')
    assert await say(world.runtime, "!sr unban noisy birds", role="moderator", user="mia") == [
        "The channel noisy birds may be requested again."
    ]
    assert [(a, t) for a, _, t in await world.audited()] == [
        ("music.ban", "song:youtube:iceiceBABY0"),
        ("music.ban", "channel:noisy birds"),
        ("music.ban", "person:console:carol"),
        ("music.unban", "person:console:carol"),
        ("music.unban", "channel:noisy birds"),
    ]
