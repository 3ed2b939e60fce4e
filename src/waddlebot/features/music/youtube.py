"""YouTube as a song source, through the YouTube Data API v3: links are read here (no quota),
search words cost a ``search.list`` (100 units, its answer cached), and every candidate is
looked up by ``videos.list`` (1 unit) for its length and its restrictions.

The API key's quota (``youtube_daily_units``, 10,000 by default) is counted per day in the
cache port, so every router shares one count; the day is YouTube's, which turns at midnight
Pacific time. Once it is spent nothing is asked until the next day."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx2
import orjson

from waddlebot.features.music.sources import QuotaSpent, SourceError, Track
from waddlebot.infra.daily import DailyCounts
from waddlebot.infra.ports import Cache

SEARCH_UNITS = 100
VIDEOS_UNITS = 1
SEARCH_RESULTS = 5
PACIFIC = ZoneInfo("America/Los_Angeles")
QUOTA_KEY = 0  # the quota is the API key's, not a community's: one counter for the bot

_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"}
_PATHS = ("/shorts/", "/embed/", "/live/", "/v/")
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
SPENT = "Today's YouTube quota is spent: song requests are back after midnight Pacific time."


def youtube_day() -> date:
    return datetime.now(PACIFIC).date()


def video_id(text: str) -> str | None:
    """The video a YouTube link names (youtu.be/ID, watch?v=ID on youtube.com, m. and
    music., /shorts/ID, /embed/ID, /live/ID), None for anything else."""
    text = text.strip()
    if "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    found: str | None = None
    if host == "youtu.be":
        found = parts.path.strip("/").split("/")[0]
    elif host in _HOSTS:
        if parts.path.rstrip("/") == "/watch":
            found = parse_qs(parts.query).get("v", [""])[0]
        else:
            found = next(
                (parts.path[len(p) :].split("/")[0] for p in _PATHS if parts.path.startswith(p)),
                None,
            )
    return found if found and _VIDEO_ID.fullmatch(found) else None


def seconds_of(duration: str) -> int | None:
    """An ISO 8601 duration as YouTube gives it (``PT4M13S``, ``P1DT2H``) in seconds; None
    when it is none (``P0D`` is a live stream's)."""
    match = _DURATION.fullmatch(duration)
    if match is None:
        return None
    days, hours, minutes, secs = (int(part or 0) for part in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    return total or None


def track_of(item: Mapping[str, Any]) -> Track:
    """A ``videos.list`` item as a track."""
    snippet = item.get("snippet", {})
    details = item.get("contentDetails", {})
    region = details.get("regionRestriction", {})
    allowed = region.get("allowed")
    live = snippet.get("liveBroadcastContent", "none")
    return Track(
        source="youtube",
        id=str(item["id"]),
        title=str(snippet.get("title", ""))[:200] or str(item["id"]),
        channel=str(snippet.get("channelTitle", ""))[:64],
        duration=seconds_of(str(details.get("duration", ""))),
        live=live in ("live", "upcoming"),
        age_restricted=details.get("contentRating", {}).get("ytRating") == "ytAgeRestricted",
        embeddable=bool(item.get("status", {}).get("embeddable", True)),
        allowed_regions=frozenset(allowed) if allowed is not None else None,
        blocked_regions=frozenset(region.get("blocked", ())),
    )


class YouTube:
    """The YouTube :class:`~waddlebot.features.music.sources.Source`."""

    name = "youtube"

    def __init__(
        self,
        http: httpx2.AsyncClient,
        cache: Cache,
        *,
        api_url: str,
        api_key: str,
        daily_units: int,
        search_cache_seconds: int,
        today: Callable[[], date] = youtube_day,
    ) -> None:
        self._http = http
        self._cache = cache
        self._url = f"{api_url.rstrip('/')}/youtube/v3"
        self._key = api_key
        self._daily_units = daily_units
        self._search_ttl = search_cache_seconds
        self.units = DailyCounts(cache, "youtube_units", keep_days=2, today=today)

    def link_id(self, text: str) -> str | None:
        return video_id(text)

    def link(self, track_id: str) -> str:
        return f"https://youtu.be/{track_id}"

    async def search(self, words: str) -> list[str]:
        query = " ".join(words.casefold().split())
        key = f"music:youtube:search:{query}"
        cached = await self._cache.get(key)
        if cached is not None:
            return [str(found) for found in orjson.loads(cached)]
        body = await self._get(
            "search",
            SEARCH_UNITS,
            part="snippet",
            type="video",
            q=query,
            maxResults=str(SEARCH_RESULTS),
        )
        ids = [
            str(item["id"]["videoId"])
            for item in body.get("items", [])
            if isinstance(item.get("id"), dict) and item["id"].get("videoId")
        ]
        if self._search_ttl:
            await self._cache.set(key, orjson.dumps(ids), self._search_ttl)
        return ids

    async def tracks(self, ids: Sequence[str]) -> list[Track]:
        if not ids:
            return []
        body = await self._get(
            "videos", VIDEOS_UNITS, part="snippet,contentDetails,status", id=",".join(ids)
        )
        found = {str(item["id"]): track_of(item) for item in body.get("items", [])}
        return [found[wanted] for wanted in ids if wanted in found]

    async def units_today(self) -> int:
        return await self.units.today_of(QUOTA_KEY, "units")

    async def _get(self, endpoint: str, units: int, **params: str) -> dict[str, Any]:
        if not self._key:
            raise SourceError("Song requests need a YouTube API key, and this bot has none yet.")
        if await self.units_today() + units > self._daily_units:
            raise QuotaSpent(SPENT)
        await self.units.add(QUOTA_KEY, "units", units)
        try:
            answer = await self._http.get(
                f"{self._url}/{endpoint}", params={**params, "key": self._key}
            )
        except httpx2.HTTPError as exc:
            raise SourceError("YouTube isn't answering right now; try again in a minute.") from exc
        body: Any = _json(answer.content)
        if answer.status_code == 200 and isinstance(body, dict):
            return body
        reasons = _reasons(body)
        if "quotaExceeded" in reasons or "dailyLimitExceeded" in reasons:
            await self.units.add(
                QUOTA_KEY, "units", self._daily_units
            )  # spent, whatever we counted
            raise QuotaSpent(SPENT)
        if answer.status_code in (400, 403) and reasons & {"keyInvalid", "badRequest", "forbidden"}:
            raise SourceError("YouTube refused the bot's API key; the operator should check it.")
        raise SourceError("YouTube isn't answering right now; try again in a minute.")


def _json(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def _reasons(body: Any) -> set[str]:
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return set()
    errors = body["error"].get("errors") or []
    return {str(e.get("reason", "")) for e in errors if isinstance(e, dict)}
