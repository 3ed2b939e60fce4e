"""The calendar HTTP API and the iCalendar feed (embedded on SQLite, distributed on PostgreSQL
and Redis): every endpoint, who may call which, two moderators approving with concurrent
requests (exactly one wins, the other gets a 409 saying who did), and the feed parsed back
with the ``icalendar`` library as a calendar app would read it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx2
import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar

from tests.support.harness import serving
from waddlebot.core.clock import ManualClock
from waddlebot.features.identity import apikeys
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings


@dataclass
class World:
    http: httpx2.AsyncClient
    runtime: Runtime
    community: int
    other: int
    service: dict[str, str]
    admin: dict[str, str]
    moderator: dict[str, str]
    moderator2: dict[str, str]
    bob: dict[str, str]
    carol: dict[str, str]
    stranger: dict[str, str]
    carol_id: int

    @property
    def base(self) -> str:
        return f"/api/v1/calendar/communities/{self.community}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def person(
    runtime: Runtime, login: str, community: int, role: str
) -> tuple[int, dict[str, str]]:
    user_id = await runtime.directory.ensure_identity("twitch", f"id-{login}", login=login)
    await runtime.directory.set_role(community, user_id, role)
    _, key = await apikeys.create_key(runtime.db, login, kind="user", user_id=user_id)
    return user_id, bearer(key)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        clock = ManualClock()  # Thursday 2026-01-01 12:00 UTC
        runtime.calendar.clock = clock
        runtime.calendar_feeds.clock = clock
        directory = runtime.directory
        community = (await directory.resolve_entity("twitch:100", "twitch")).community_id
        other = (await directory.resolve_entity("twitch:200", "twitch")).community_id
        _, admin = await person(runtime, "ada", community, "admin")
        _, moderator = await person(runtime, "mia", community, "moderator")
        _, moderator2 = await person(runtime, "max", community, "moderator")
        _, bob = await person(runtime, "bob", community, "member")
        carol_id, carol = await person(runtime, "carol", community, "member")
        _, stranger = await person(runtime, "zed", other, "admin")
        _, service = await apikeys.create_key(runtime.db, "service")
        yield World(
            http,
            runtime,
            community,
            other,
            bearer(service),
            admin,
            moderator,
            moderator2,
            bob,
            carol,
            stranger,
            carol_id,
        )


MOVIE = {
    "title": "Movie night",
    "starts_at": "2026-01-02T20:00:00",  # no offset: the community's time zone
    "duration_minutes": 120,
    "repeat": "weekly",
    "description": "Bring snacks",
    "capacity": 2,
    "entity_id": "twitch:100",
}


async def test_events_through_the_api(world: World) -> None:
    http, base = world.http, world.base
    await world.runtime.community.set_timezone(world.community, "Europe/Berlin", "test")
    added = await http.post(f"{base}/events", headers=world.moderator, json=MOVIE)
    assert added.status_code == 201, added.text
    movie = added.json()
    assert {k: movie[k] for k in ("status", "repeat", "interval", "timezone", "creator")} == {
        "status": "approved",
        "repeat": "weekly",
        "interval": 1,
        "timezone": "Europe/Berlin",
        "creator": "@mia",
    }
    assert movie["starts_at"] == "2026-01-02T19:00:00Z"
    pending = await http.post(
        f"{base}/events",
        headers=world.bob,
        json={"title": "Pub quiz", "starts_at": "2026-01-03T19:00:00+00:00"},
    )
    assert pending.json()["status"] == "pending" and pending.json()["creator"] == "@bob"
    quiz = pending.json()["id"]
    past = await http.post(
        f"{base}/events",
        headers=world.bob,
        json={"title": "Late", "starts_at": "2025-01-03T19:00:00+00:00"},
    )
    assert past.status_code == 422
    elsewhere = await http.post(
        f"{base}/events", headers=world.moderator, json=MOVIE | {"entity_id": "twitch:200"}
    )
    assert elsewhere.status_code == 422  # reminders go to a place of this community only

    upcoming = await http.get(f"{base}/events", headers=world.bob)
    assert [e["title"] for e in upcoming.json()["items"]] == ["Movie night"]
    assert (await http.get(f"{base}/events?status=pending", headers=world.bob)).status_code == 403
    waiting = await http.get(
        f"{base}/events", headers=world.moderator, params={"status": "pending"}
    )
    assert [e["id"] for e in waiting.json()["items"]] == [quiz]
    assert (await http.post(f"{base}/events/{quiz}/approve", headers=world.bob)).status_code == 403
    rejected = await http.post(
        f"{base}/events/{quiz}/reject", headers=world.moderator, json={"reason": "too late"}
    )
    assert (rejected.json()["status"], rejected.json()["reason"]) == ("rejected", "too late")
    assert (
        await http.post(f"{base}/events/{quiz}/approve", headers=world.moderator)
    ).status_code == 409

    movie_id = movie["id"]
    joined = await http.post(f"{base}/events/{movie_id}/join", headers=world.bob)
    assert joined.json()["attendees"] == ["@bob"]
    for_carol = await http.post(
        f"{base}/events/{movie_id}/join", headers=world.bob, json={"user_id": world.carol_id}
    )
    assert for_carol.status_code == 403
    by_mod = await http.post(
        f"{base}/events/{movie_id}/join", headers=world.moderator, json={"user_id": world.carol_id}
    )
    assert by_mod.json()["attendees"] == ["@bob", "@carol"]
    full = await http.post(f"{base}/events/{movie_id}/join", headers=world.admin)
    assert full.status_code == 409 and "full" in full.json()["detail"]
    left = await http.post(f"{base}/events/{movie_id}/leave", headers=world.carol)
    assert left.json()["going"] == 1
    one = await http.get(f"{base}/events/{movie_id}", headers=world.carol)
    assert one.json()["attendees"] == ["@bob"]
    assert one.json()["next_start"] == "2026-01-02T19:00:00Z"
    assert (await http.get(f"{base}/events/999", headers=world.carol)).status_code == 404

    not_theirs = await http.post(f"{base}/events/{movie_id}/cancel", headers=world.bob)
    assert not_theirs.status_code == 403
    mine = await http.post(
        f"{base}/events",
        headers=world.admin,
        json={"title": "Own", "starts_at": "2026-02-01T10:00:00Z"},
    )
    cancelled = await http.post(f"{base}/events/{mine.json()['id']}/cancel", headers=world.admin)
    assert cancelled.json()["status"] == "cancelled"
    twice = await http.post(f"{base}/events/{mine.json()['id']}/cancel", headers=world.admin)
    assert twice.status_code == 409


async def test_two_moderators_approving_at_once(world: World) -> None:
    http, base = world.http, world.base
    for n in range(4):
        created = await http.post(
            f"{base}/events",
            headers=world.bob,
            json={"title": f"e{n}", "starts_at": "2026-01-05T18:00:00Z"},
        )
        event = created.json()["id"]
        answers = await asyncio.gather(
            http.post(f"{base}/events/{event}/approve", headers=world.moderator),
            http.post(f"{base}/events/{event}/approve", headers=world.moderator2),
        )
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        winner = next(a for a in answers if a.status_code == 200).json()["decided_by"]
        loser = next(a for a in answers if a.status_code == 409).json()["detail"]
        assert loser == f"event #{event} was approved already by {winner}"


async def test_the_feed_is_an_icalendar_apps_can_read(world: World) -> None:
    http, base = world.http, world.base
    await world.runtime.community.set_timezone(world.community, "Europe/Berlin", "test")
    await world.runtime.community.rename(world.community, "Waddle TV", "test")
    movie = (await http.post(f"{base}/events", headers=world.moderator, json=MOVIE)).json()
    await http.post(
        f"{base}/events",
        headers=world.moderator,
        json={
            "title": "Dev stream",
            "starts_at": "2026-01-31T18:00:00",
            "repeat": "monthly",
            "interval": 2,
        },
    )
    await http.post(
        f"{base}/events",
        headers=world.moderator,
        json={"title": "Launch party", "starts_at": "2026-03-01T12:00:00Z"},
    )
    await http.post(  # waiting for approval: not in the feed
        f"{base}/events",
        headers=world.bob,
        json={"title": "Secret", "starts_at": "2026-01-09T20:00:00Z"},
    )

    assert (await http.get(f"{base}/feed", headers=world.moderator)).status_code == 403
    assert (await http.get(f"{base}/feed", headers=world.admin)).json() == {
        "active": False,
        "made_at": None,
    }
    link = await http.post(f"{base}/feed", headers=world.admin)
    assert link.status_code == 201
    url, token = link.json()["url"], link.json()["token"]
    assert url == f"http://127.0.0.1:8000/api/v1/calendar/{world.community}/feed.ics?token={token}"
    assert (await http.get(f"{base}/feed", headers=world.admin)).json()["active"] is True

    feed = await http.get(f"/api/v1/calendar/{world.community}/feed.ics", params={"token": token})
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(feed.content)
    assert str(calendar["X-WR-CALNAME"]) == "Waddle TV"
    assert str(calendar["VERSION"]) == "2.0"
    events = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    assert sorted(events) == ["Dev stream", "Launch party", "Movie night"]
    berlin = ZoneInfo("Europe/Berlin")
    night = events["Movie night"]
    assert night.decoded("DTSTART") == datetime(2026, 1, 2, 20, 0, tzinfo=berlin)
    assert night["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert night.decoded("DTEND") - night.decoded("DTSTART") == timedelta(hours=2)
    assert str(night["DESCRIPTION"]) == "Bring snacks"
    assert night["RRULE"].to_ical() == b"FREQ=WEEKLY"
    assert str(night["UID"]).startswith(f"event-{movie['id']}-")
    # expanded like a calendar app: 20:00 in Berlin before and after summer time starts
    rule = rrulestr(
        night["RRULE"].to_ical().decode(),
        dtstart=night.decoded("DTSTART").replace(tzinfo=None),
    )
    march = rule.between(datetime(2026, 3, 20), datetime(2026, 4, 4))
    starts = [d.replace(tzinfo=berlin).astimezone(UTC) for d in march]
    assert [s.hour for s in starts] == [19, 19, 18]  # 20:00 CET, then 20:00 CEST (29 March)
    dev = events["Dev stream"]
    assert dev["RRULE"].to_ical() == b"FREQ=MONTHLY;INTERVAL=2"
    assert events["Launch party"].decoded("DTSTART") == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert "RRULE" not in events["Launch party"]
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]

    nothing = await http.get(
        f"/api/v1/calendar/{world.community}/feed.ics", params={"token": "x" * 43}
    )
    assert nothing.status_code == 404
    other = await http.get(f"/api/v1/calendar/{world.other}/feed.ics", params={"token": token})
    assert other.status_code == 404  # a token opens its own community's feed only
    rotated = (await http.post(f"{base}/feed", headers=world.admin)).json()["token"]
    stale = await http.get(f"/api/v1/calendar/{world.community}/feed.ics", params={"token": token})
    assert stale.status_code == 404
    fresh = await http.get(
        f"/api/v1/calendar/{world.community}/feed.ics", params={"token": rotated}
    )
    assert fresh.status_code == 200
    assert (await http.delete(f"{base}/feed", headers=world.admin)).status_code == 204
    assert (await http.delete(f"{base}/feed", headers=world.admin)).status_code == 404
    off = await http.get(f"/api/v1/calendar/{world.community}/feed.ics", params={"token": rotated})
    assert off.status_code == 404
    cancelled = await http.post(f"{base}/events/{movie['id']}/cancel", headers=world.moderator)
    assert cancelled.status_code == 200
    again = (await http.post(f"{base}/feed", headers=world.admin)).json()["token"]
    later = await http.get(f"/api/v1/calendar/{world.community}/feed.ics", params={"token": again})
    titles = sorted(str(e["SUMMARY"]) for e in Calendar.from_ical(later.content).walk("VEVENT"))
    assert titles == ["Dev stream", "Launch party"]  # a cancelled event leaves the feed


async def test_other_communities_see_nothing(world: World) -> None:
    http, base = world.http, world.base
    event = (await http.post(f"{base}/events", headers=world.moderator, json=MOVIE)).json()["id"]
    for method, path in [
        ("GET", "/events"),
        ("GET", f"/events/{event}"),
        ("POST", f"/events/{event}/join"),
        ("POST", f"/events/{event}/approve"),
        ("POST", "/feed"),
    ]:
        assert (await http.request(method, base + path, headers=world.stranger)).status_code == 403
        assert (await http.request(method, base + path)).status_code == 401
    theirs = f"/api/v1/calendar/communities/{world.other}"
    assert (await http.get(f"{theirs}/events/{event}", headers=world.stranger)).status_code == 404
    assert (
        await http.post(f"{theirs}/events/{event}/join", headers=world.stranger)
    ).status_code == 404


async def test_editing_an_event(world: World) -> None:
    http, base = world.http, world.base
    added = await http.post(
        f"{base}/events",
        headers=world.bob,
        json={"title": "Pub quiz", "starts_at": "2026-01-03T19:00:00+00:00"},
    )
    quiz = added.json()["id"]
    own = await http.patch(f"{base}/events/{quiz}", headers=world.bob, json={"title": "Quiz"})
    assert own.status_code == 200 and own.json()["title"] == "Quiz"
    assert own.json()["status"] == "pending"  # an edit decides nothing
    theirs = await http.patch(f"{base}/events/{quiz}", headers=world.carol, json={"title": "x"})
    assert theirs.status_code == 403
    change = {"repeat": "monthly", "interval": 2, "capacity": 3, "duration_minutes": 90}
    edited = await http.patch(f"{base}/events/{quiz}", headers=world.moderator, json=change)
    assert {k: edited.json()[k] for k in ("repeat", "interval", "capacity", "title")} == {
        "repeat": "monthly",
        "interval": 2,
        "capacity": 3,
        "title": "Quiz",
    }
    await http.post(f"{base}/events/{quiz}/approve", headers=world.moderator)
    late = await http.patch(f"{base}/events/{quiz}", headers=world.bob, json={"title": "Mine"})
    assert late.status_code == 403  # approved: the member's change would skip the approval
    past = {"starts_at": "2025-01-01T10:00:00+00:00"}
    assert (
        await http.patch(f"{base}/events/{quiz}", headers=world.moderator, json=past)
    ).status_code == 422
    once = await http.patch(
        f"{base}/events/{quiz}", headers=world.moderator, json={"repeat": "none", "capacity": 0}
    )
    assert (once.json()["repeat"], once.json()["capacity"]) == (None, None)
    await http.post(f"{base}/events/{quiz}/cancel", headers=world.moderator)
    gone = await http.patch(f"{base}/events/{quiz}", headers=world.moderator, json={"title": "y"})
    assert gone.status_code == 409
    elsewhere = await http.patch(
        f"/api/v1/calendar/communities/{world.other}/events/{quiz}",
        headers=world.stranger,
        json={"title": "z"},
    )
    assert elsewhere.status_code == 404
