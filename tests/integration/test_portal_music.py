"""The Music page of the portal over HTTP, with songs asked for in chat against the fake
YouTube: what plays and the queue (and its section alone, which the page polls), taking a
song out, skipping, pausing, the volume with its mistakes at the field, opening and closing,
the bans; the audit rows chat writes; markup in titles and bans shown as text; another
community's queue never in the page. For admins the Spotify app (its secret never shown) and
the connect button through the fake Spotify's consent; a moderator sees none of it and is
refused its forms."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest
from pydantic import SecretStr

from tests.fakes.spotify import FakeSpotify, SpotifyApp
from tests.fakes.youtube import FakeYouTube, Video
from tests.integration.test_music import with_youtube
from tests.integration.test_portal import signed_in
from tests.integration.test_portal_commands import community, field_error, token
from tests.support.harness import free_port, say, serving
from tests.support.overlays import shown
from waddlebot.features.music.controls import MUSIC_CONTROLS
from waddlebot.features.music.feature import SONG_QUEUE
from waddlebot.features.music.spotify.wiring import SPOTIFY
from waddlebot.infra.secretbox import SecretBox
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings
from waddlebot.web.access import Role

pytestmark = pytest.mark.parametrize("mode", ["embedded"])
XSS = '<img src=x onerror="alert(1)">'
ICE = Video("iceiceBABY0", "Ice Ice Penguin", duration="PT4M13S")
WADDLE = Video("waddleWADDL", f"Waddle {XSS}", duration="PT2M5S", channel=XSS)
FISH = Video("fishFISH123", "Fish Are Friends", duration="PT3M")


@dataclass
class World:
    url: str
    runtime: Runtime
    spotify: FakeSpotify
    app: SpotifyApp
    home: int
    away: int

    @property
    def page(self) -> str:
        return f"/c/{self.home}/music"

    @contextlib.asynccontextmanager
    async def person(self, login: str, role: Role) -> AsyncIterator[httpx2.AsyncClient]:
        """A browser signed in as ``login``, who has ``role`` in the home community."""
        async with httpx2.AsyncClient(base_url=self.url) as http:
            user = await signed_in(http, self.runtime, login)
            await self.runtime.directory.set_role(self.home, user, role)
            yield http

    async def changes(self) -> list[str]:
        await self.runtime.audit.flush()
        rows = await self.runtime.audit.recent(100, community_id=self.home)
        return [f"{row.action} {row.target}" for row in reversed(rows) if "music" in row.action]


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with FakeYouTube() as youtube, FakeSpotify() as spotify:
        for video in (ICE, WADDLE, FISH):
            youtube.add(video)
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        app = spotify.register_app([f"{public}/api/v1/music/spotify/oauth/callback"])
        spotify.add_user("olga-on-spotify", "Olga")
        configured = with_youtube(settings, youtube).model_copy(
            update={
                "secret_keys": [SecretStr(SecretBox.generate_key())],
                "spotify_accounts_url": spotify.url,
                "spotify_api_url": spotify.url,
                "spotify_public_url": public,
            }
        )
        async with serving(configured, port=port) as (url, runtime):
            home = await community(runtime, "console:local", "Penguins")
            away = await community(runtime, "console:elsewhere", "Others")
            owner = {"user": "olga", "role": "owner"}
            await say(runtime, "!module config music cooldown_seconds 0", **owner)
            yield World(url, runtime, spotify, app, home, away)


async def songs(world: World) -> None:
    await say(world.runtime, "!sr https://youtu.be/iceiceBABY0")
    await say(world.runtime, "!sr https://youtu.be/waddleWADDL", user="bob")
    await say(world.runtime, "!sr https://youtu.be/fishFISH123", user="carol")
    await say(world.runtime, "!sr https://youtu.be/fishFISH123", user="zed", channel="elsewhere")


async def test_a_moderator_sees_the_queue_and_moves_it_on(world: World) -> None:
    await songs(world)
    async with world.person("mo", "moderator") as http:
        page = await http.get(world.page)
        assert page.status_code == 200
        assert "Ice Ice Penguin" in page.text and "Requested by alice" in page.text
        assert "0:00 of 4:13" in page.text and "<progress" in page.text
        assert "2 songs waiting" in page.text and 'hx-trigger="every 5s"' in page.text
        assert "&lt;img src=x" in page.text and "<img src=x" not in page.text
        assert "zed" not in page.text  # the other community's request
        assert 'id="spotify-title"' not in page.text  # a moderator: no Spotify section

        queue = world.runtime.need(SONG_QUEUE)
        ice, waddle, fish = await queue.songs(world.home)
        (theirs,) = await queue.songs(world.away)
        hx = {"HX-Request": "true", "X-CSRF-Token": http.cookies["waddlebot_csrf"]}
        removed = await http.post(f"{world.page}/remove", data={"song": waddle.id}, headers=hx)
        assert removed.status_code == 200 and "<html" not in removed.text
        assert "Took &#34;Waddle &lt;img" in removed.text and "1 song waiting" in removed.text
        not_here = await http.post(f"{world.page}/remove", data={**token(http), "song": theirs.id})
        assert not_here.status_code == 404 and "no song #" in not_here.text
        assert len(await queue.songs(world.away)) == 1
        playing = await http.post(f"{world.page}/remove", data={**token(http), "song": ice.id})
        assert playing.status_code == 404 and "skip it instead" in playing.text

        paused = await http.post(f"{world.page}/pause", data=token(http))
        assert (
            "Paused &#34;Ice Ice Penguin&#34;." in paused.text and "paused</strong>" in paused.text
        )
        assert (await shown(world.runtime, world.home, "media") or {}).get("paused") is True
        await http.post(f"{world.page}/play", data=token(http))
        skipped = await http.post(f"{world.page}/skip", data={}, headers=hx)
        assert "Skipped &#34;Ice Ice Penguin&#34;. Now playing &#34;Fish Are Friends&#34;." in (
            skipped.text
        )
        section = await http.get(f"{world.page}/queue")
        assert "Fish Are Friends" in section.text and "No songs are waiting." in section.text
        assert "<html" not in section.text
        cleared = await http.post(f"{world.page}/clear", data=token(http))
        assert (
            "Cleared the queue (1 song)." in cleared.text and "Nothing is playing." in cleared.text
        )
        nothing = await http.post(f"{world.page}/skip", data=token(http))
        assert nothing.status_code == 409 and "Nothing is playing." in nothing.text

        refused = await http.post(f"{world.page}/skip")  # no CSRF token
        assert refused.status_code == 403
    assert await world.changes() == [
        f"music.remove song:{waddle.id}",
        f"music.pause song:{ice.id}",
        f"music.resume song:{ice.id}",
        f"music.skip song:{ice.id}",
        "music.clear queue",
    ]
    assert fish.title == "Fish Are Friends"


async def test_volume_requests_and_bans_with_mistakes_at_their_field(world: World) -> None:
    async with world.person("mo", "moderator") as http:
        for wrong in ("101", "loud", ""):
            answer = await http.post(f"{world.page}/volume", data={**token(http), "volume": wrong})
            assert answer.status_code == 400
            assert "whole number from 0 to 100" in field_error(answer.text, "music-volume")
            assert 'aria-describedby="music-volume-error"' in answer.text
        set_ = await http.post(f"{world.page}/volume", data={**token(http), "volume": "35"})
        assert "The volume is 35 now." in set_.text and 'value="35"' in set_.text
        assert await say(world.runtime, "!volume") == ["The volume is 35."]

        closed = await http.post(f"{world.page}/open", data={**token(http), "open": "no"})
        assert "Song requests are closed." in closed.text and "Open requests" in closed.text
        assert await say(world.runtime, "!sr https://youtu.be/iceiceBABY0") == [
            "Song requests are closed right now."
        ]
        await http.post(f"{world.page}/open", data={**token(http), "open": "yes"})

        ban = f"{world.page}/bans"
        empty = await http.post(ban, data={**token(http), "target": ""})
        assert empty.status_code == 400 and "Say what to ban" in field_error(
            empty.text, "ban-target"
        )
        nowhere = await http.post(ban, data={**token(http), "target": "@carol", "platform": "x"})
        assert "Choose the platform @carol is on." in field_error(nowhere.text, "ban-platform")
        song = await http.post(ban, data={**token(http), "target": "https://youtu.be/iceiceBABY0"})
        assert "The song &#34;Ice Ice Penguin&#34; is banned from song requests." in song.text
        again = await http.post(ban, data={**token(http), "target": "https://youtu.be/iceiceBABY0"})
        assert "banned from song requests already" in field_error(again.text, "ban-target")
        marked = await http.post(ban, data={**token(http), "target": XSS})
        assert "&lt;img src=x" in marked.text and "<img src=x" not in marked.text
        person = {**token(http), "target": "@carol", "platform": "console"}
        assert "carol is banned" in (await http.post(ban, data=person)).text
        assert await say(world.runtime, "!sr https://youtu.be/waddleWADDL", user="carol") == [
            "A moderator banned you from song requests here."
        ]
        controls = world.runtime.need(MUSIC_CONTROLS)
        (carol,) = [
            row for row in await controls.listed_bans(world.home) if row.ban.kind == "person"
        ]
        lifted = await http.post(f"{ban}/remove", data={**token(http), "ban": carol.id})
        assert "carol may request songs again." in lifted.text
        gone = await http.post(f"{ban}/remove", data={**token(http), "ban": carol.id})
        assert gone.status_code == 404 and f"There is no ban #{carol.id} here." in gone.text
    assert [c.split(" ", 1)[0] for c in await world.changes()] == [
        "music.volume",
        "music.close",
        "music.open",
        "music.ban",
        "music.ban",
        "music.ban",
        "music.unban",
    ]


async def test_an_admin_sets_the_spotify_app_and_connects_it(world: World) -> None:
    async with world.person("mo", "moderator") as moderator:
        body = {**token(moderator), "client_id": world.app.client_id, "client_secret": "s"}
        refused = await moderator.post(f"{world.page}/spotify/app", data=body)
        assert refused.status_code == 403
        connect = await moderator.post(f"{world.page}/spotify/connect", data=token(moderator))
        assert connect.status_code == 403
    assert await world.runtime.need(SPOTIFY).store.status(world.home) is None

    async with world.person("ada", "admin") as http:
        page = await http.get(world.page)
        assert 'id="spotify-title"' in page.text and "none yet" in page.text
        assert "/api/v1/music/spotify/oauth/callback" in page.text
        assert "Connect Spotify" not in page.text  # no app yet
        wrong = {**token(http), "client_id": "not an id!", "client_secret": ""}
        answer = await http.post(f"{world.page}/spotify/app", data=wrong)
        assert answer.status_code == 400
        assert "letters and digits" in field_error(answer.text, "spotify-client_id")
        assert field_error(answer.text, "spotify-client_secret")
        right = {**token(http), "client_id": world.app.client_id, "client_secret": world.app.secret}
        saved = await http.post(f"{world.page}/spotify/app", data=right)
        assert f"Saved the Spotify app {world.app.client_id}." in saved.text
        assert world.app.secret not in saved.text and ">set<" in saved.text

        hx = {"HX-Request": "true", "X-CSRF-Token": http.cookies["waddlebot_csrf"]}
        went = await http.post(f"{world.page}/spotify/connect", headers=hx)
        link = went.headers["HX-Redirect"]
        assert went.status_code == 204 and "/api/v1/music/spotify/oauth/start?ticket=" in link
        without_js = await http.post(f"{world.page}/spotify/connect", data=token(http))
        assert "Continue to Spotify" in without_js.text
        world.spotify.authorize_as("olga-on-spotify")
        async with httpx2.AsyncClient() as browser:
            done = await browser.get(link, follow_redirects=True)
        assert "The Spotify account Olga is connected." in done.text
        page = await http.get(world.page)
        assert "Olga is connected" in page.text and "Disconnect Spotify" in page.text
        assert world.app.secret not in page.text
    await world.runtime.audit.flush()
    rows = await world.runtime.audit.recent(50, community_id=world.home)
    assert any(row.action == "music.spotify.connect" for row in rows)
