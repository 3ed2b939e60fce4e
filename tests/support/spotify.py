"""A community's Spotify connected in tests, as its owner does it: the streamer's own app set
over the API, then ``!sr spotify connect`` and its private link followed in a browser (an
HTTP client keeping cookies) through the fake Spotify's consent page."""

from __future__ import annotations

import re

import httpx2

from tests.fakes.spotify import FakeSpotify, SpotifyApp
from tests.support.harness import say
from waddlebot.runtime import Runtime

OWNER = {"user": "olga", "role": "owner"}


async def connect_link(runtime: Runtime) -> str:
    """The link ``!sr spotify connect`` sends the owner, privately."""
    said = await say(runtime, "!sr spotify connect", **OWNER)
    assert "I sent you the Spotify connect link in a private message." in said
    (private,) = [line for line in said if line.startswith("(private) ")]
    (link,) = re.findall(r"https?://\S+", private)
    return link


async def connect_spotify(
    runtime: Runtime,
    http: httpx2.AsyncClient,
    community_id: int,
    spotify: FakeSpotify,
    app: SpotifyApp,
    user_id: str,
) -> None:
    """``http``: the bot's API with its key. The account ``user_id`` connected."""
    body = {"client_id": app.client_id, "client_secret": app.secret}
    path = f"/api/v1/music/communities/{community_id}/spotify/app"
    assert (await http.put(path, json=body)).status_code == 200
    link = await connect_link(runtime)
    spotify.authorize_as(user_id)
    page = await http.get(link, follow_redirects=True)
    assert "is connected" in page.text, page.text
