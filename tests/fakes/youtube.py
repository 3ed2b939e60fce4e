"""``FakeYouTube``: the two YouTube Data API v3 calls song requests make, on a loopback
port, as Google answers them:

- ``GET /youtube/v3/search?part=snippet&type=video&q=&maxResults=&key=`` (100 units): the
  catalogue's videos whose titles hold every word of ``q``, as ``youtube#searchResult``s;
- ``GET /youtube/v3/videos?part=snippet,contentDetails,status&id=a,b&key=`` (1 unit): the
  known videos among ``id``, with their ISO 8601 duration, age rating, region restriction,
  embeddability and live state.

The key is checked (400 ``badRequest`` "API key not valid"); every call is charged against
``daily_units`` first, and once they are spent the call is answered 403 ``quotaExceeded``
(``domain: youtube.quota``), as YouTube does.

For the media page's browser tests it also stands in for the player's hosts:
``GET /iframe_api`` is ``youtube_player.js`` (the IFrame Player API's surface, driven by the
test) and ``GET /embed/<id>`` the page the player frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.fakes.served import ServedFake

API_KEY = "AIzaFakeYouTubeKey000000000000000000000"
COSTS = {"search": 100, "videos": 1}
PLAYER_SCRIPT = Path(__file__).with_name("youtube_player.js")


@dataclass
class Video:
    id: str
    title: str
    channel: str = "Some Channel"
    duration: str = "PT3M30S"  # ISO 8601; a live stream's is P0D
    live: str = "none"  # liveBroadcastContent: live, upcoming, none
    age_restricted: bool = False
    embeddable: bool = True
    allowed: list[str] | None = None  # regionRestriction.allowed
    blocked: list[str] = field(default_factory=list)

    def resource(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "duration": self.duration,
            "dimension": "2d",
            "definition": "hd",
            "caption": "false",
            "licensedContent": True,
            "contentRating": {"ytRating": "ytAgeRestricted"} if self.age_restricted else {},
            "projection": "rectangular",
        }
        region: dict[str, list[str]] = {}
        if self.allowed is not None:
            region["allowed"] = self.allowed
        if self.blocked:
            region["blocked"] = self.blocked
        if region:
            details["regionRestriction"] = region
        return {
            "kind": "youtube#video",
            "etag": f"etag-{self.id}",
            "id": self.id,
            "snippet": self._snippet(),
            "contentDetails": details,
            "status": {
                "uploadStatus": "processed",
                "privacyStatus": "public",
                "license": "youtube",
                "embeddable": self.embeddable,
                "publicStatsViewable": True,
                "madeForKids": False,
            },
        }

    def search_result(self) -> dict[str, Any]:
        return {
            "kind": "youtube#searchResult",
            "etag": f"search-{self.id}",
            "id": {"kind": "youtube#video", "videoId": self.id},
            "snippet": self._snippet(),
        }

    def _snippet(self) -> dict[str, Any]:
        return {
            "publishedAt": "2020-01-01T00:00:00Z",
            "channelId": "UC" + "x" * 22,
            "title": self.title,
            "description": "",
            "channelTitle": self.channel,
            "liveBroadcastContent": self.live,
        }


def _error(status: int, message: str, reason: str, domain: str = "global") -> JSONResponse:
    errors = [{"message": message, "domain": domain, "reason": reason}]
    body = {"error": {"code": status, "message": message, "errors": errors}}
    return JSONResponse(body, status_code=status)


class FakeYouTube(ServedFake):
    def __init__(self, *, daily_units: int = 10_000) -> None:
        self.videos: dict[str, Video] = {}
        self.daily_units = daily_units
        self.units_used = 0
        self.calls: list[str] = []  # endpoint of each call answered

    def add(self, video: Video) -> Video:
        self.videos[video.id] = video
        return video

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/youtube/v3/search", self._search),
                Route("/youtube/v3/videos", self._videos),
                Route("/iframe_api", self._player_script),
                Route("/embed/{video_id}", self._embed),
            ]
        )

    async def _player_script(self, request: Request) -> Response:
        return Response(PLAYER_SCRIPT.read_bytes(), media_type="text/javascript")

    async def _embed(self, request: Request) -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>player</title><p id=stand-in>YouTube's player")

    def _charge(self, request: Request, endpoint: str) -> JSONResponse | None:
        if request.query_params.get("key") != API_KEY:
            message = "API key not valid. Please pass a valid API key."
            return _error(400, message, "badRequest")
        if "part" not in request.query_params:
            return _error(400, "No filter selected.", "missingRequiredParameter")
        cost = COSTS[endpoint]
        if self.units_used + cost > self.daily_units:
            message = (
                "The request cannot be completed because you have exceeded your "
                '<a href="/youtube/v3/getting-started#quota">quota</a>.'
            )
            return _error(403, message, "quotaExceeded", "youtube.quota")
        self.units_used += cost
        self.calls.append(endpoint)
        return None

    async def _search(self, request: Request) -> JSONResponse:
        refused = self._charge(request, "search")
        if refused is not None:
            return refused
        words = request.query_params.get("q", "").casefold().split()
        wanted = int(request.query_params.get("maxResults", "5"))
        found = [
            video
            for video in self.videos.values()
            if words and all(word in video.title.casefold() for word in words)
        ][:wanted]
        return JSONResponse(
            {
                "kind": "youtube#searchListResponse",
                "regionCode": "US",
                "pageInfo": {"totalResults": len(found), "resultsPerPage": wanted},
                "items": [video.search_result() for video in found],
            }
        )

    async def _videos(self, request: Request) -> JSONResponse:
        refused = self._charge(request, "videos")
        if refused is not None:
            return refused
        ids = [i for i in request.query_params.get("id", "").split(",") if i]
        if len(ids) > 50:
            return _error(400, "Too many ids.", "invalidParameter")
        items = [self.videos[i].resource() for i in ids if i in self.videos]
        return JSONResponse(
            {
                "kind": "youtube#videoListResponse",
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                "items": items,
            }
        )
