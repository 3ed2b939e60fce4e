"""Reminders: a message posted once or on a schedule, in a place of the community or privately
to the person who asked (``!remind me ...``). They live in the database, so they survive
restarts, and are sent by the scheduler (infra/scheduler.py) through :meth:`fire_due`, a
claim-once job (infra/jobs.py):

- due reminders are those with ``due_at <= now`` that nobody holds a claim on;
- each is claimed first, in one transaction, with ``UPDATE reminders SET claimed_by = <token>,
  claimed_until = now + CLAIM WHERE id = :id AND due_at = :seen AND (unclaimed or the claim
  ran out)``: when two processes run the job at once, only one update matches, and only that
  process sends it;
- the message goes on the platform's reply stream (``replies.<platform>``), then the claim is
  settled: a one-off reminder is deleted, a recurring one moves to its next occurrence after
  now (occurrences missed while no scheduler ran are sent once, late, not one by one);
- a process that dies between claiming and settling leaves a claim that runs out after
  ``CLAIM`` seconds; the next process to look sends it again with the same outbound id
  (``reminder:<id>:<due timestamp>``), which the platform's collector sends only once.

A reminder for a place posts there only while the place belongs to the reminder's community;
one whose place has moved to another community is settled without posting. A private one
follows the person: it is a direct message to the account that asked.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import delete, func, or_, select, update

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.contract import OutboundMessage, Visibility
from waddlebot.core.events import new_id
from waddlebot.core.language import (
    Repeat,
    TimeOfDayError,
    When,
    WhenError,
    ZoneOf,
    due,
    next_due,
    parse_time_of_day,
    read_when,
    skip_words,
)
from waddlebot.core.permissions import Level
from waddlebot.features.memories.common import (
    UTC,
    Author,
    LimitReached,
    MemoriesError,
    NotAllowed,
    UnknownNumber,
    check_text,
    level_name,
    next_number,
    utc,
)
from waddlebot.features.memories.models import Reminder
from waddlebot.infra import outbox
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Entity, Identity
from waddlebot.infra.db.records import record_of
from waddlebot.infra.jobs import (
    ALWAYS_ON,
    ClaimOnceJob,
    CommunitySwitch,
    DueQuery,
    DueRow,
    claim_row,
)
from waddlebot.infra.ports import Bus

log = structlog.get_logger(__name__)

MAX_TEXT = 300
MAX_PER_USER = 10  # private reminders one person has waiting, per community
MAX_PER_COMMUNITY = 200
CHANNEL_LEVEL = Level.MODERATOR  # sets reminders that post in a place
CLAIM = timedelta(minutes=2)  # a claim not settled in this long is taken over
KIND = "reminder"
MIN_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(days=365)


class ReminderTimeError(MemoriesError, WhenError):
    """The time part of a reminder cannot be read, or is too soon or too far; the message says
    why."""


def parse_when(text: str) -> tuple[When, str]:
    """The time at the start of ``text`` (docs/commands.md, "Times and durations"), and the
    rest, as typed. ReminderTimeError when there is none or it is malformed."""
    try:
        when, used = read_when(text.split())
    except TimeOfDayError as exc:
        raise ReminderTimeError(f"{exc.written!r} is not a time of day; {exc.advice}") from exc
    except WhenError as exc:
        raise ReminderTimeError(str(exc)) from exc
    if when.delay is not None:
        _check_ahead(when.delay)
    return when, skip_words(text, used)


def first_due(when: When, now: datetime, zone: ZoneInfo) -> datetime:
    """When a reminder set ``now`` is first due (UTC). ReminderTimeError for a moment that
    has passed or is too far ahead."""
    if when.moment is not None and when.moment.tzinfo is None:
        raise ReminderTimeError("give the time with its zone, e.g. 2030-01-01T18:30:00Z")
    try:
        moment = due(when, now, zone)
    except WhenError as exc:
        raise ReminderTimeError(str(exc)) from exc
    if when.delay is not None or when.moment is not None:
        _check_ahead(moment - now)
    elif moment - now > MAX_DELAY:
        _check_ahead(moment - now)
    return moment


def _check_ahead(ahead: timedelta) -> None:
    if ahead < MIN_DELAY:
        raise ReminderTimeError("a reminder is at least 1 minute away")
    if ahead > MAX_DELAY:
        raise ReminderTimeError(f"a reminder is at most {MAX_DELAY.days} days away")


@dataclass(frozen=True, slots=True)
class Place:
    """Where a reminder posts: a place (entity) and its channel on the platform."""

    entity_id: str
    platform: str
    channel_id: str


@dataclass(frozen=True, slots=True)
class ReminderInfo:
    number: int
    text: str
    entity_id: str
    platform: str
    channel_id: str
    to_user: str  # the account a private reminder goes to; "" for one that posts in a place
    due_at: datetime
    repeat: Repeat
    weekday: int | None
    time_of_day: str
    timezone: str
    created_by: str
    created_by_user_id: int | None
    runs: int
    created_at: datetime

    @property
    def private(self) -> bool:
        return bool(self.to_user)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)


def _info(row: Reminder) -> ReminderInfo:
    return record_of(ReminderInfo, row, repeat=cast(Repeat, row.repeat))


@dataclass(frozen=True, slots=True)
class _Due:
    id: int
    community_id: int
    due_at: datetime
    reminder: ReminderInfo
    posts: bool  # False: its place now belongs to another community
    token: str = ""  # once claimed: the claim's


class ReminderService(ClaimOnceJob["_Due", "_Due"]):
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        bus: Bus,
        zone_of: ZoneOf = utc,
        clock: Clock | None = None,
        *,
        switch: CommunitySwitch = ALWAYS_ON,
    ) -> None:
        """``switch``: where the memories module is off, and its reminders are not sent."""
        self.db = db
        self.switch = switch
        self.audit = audit
        self._changes = audit.changes(KIND)
        self.bus = bus
        self.zone = zone_of
        self.clock = clock or SystemClock()

    # ----- places -------------------------------------------------------------------------

    async def place_named(self, community_id: int, platform: str, given: str) -> Place | None:
        """A place of the community on ``platform`` as someone wrote it: ``#local``,
        ``<#123>`` (a Discord channel mention), ``#login`` (a Twitch channel, by its owner's
        login), or its id (``#twitch:1337``). None when no place fits."""
        name = given.strip()
        if name.startswith("<#") and name.endswith(">"):
            name = name[2:-1]
        name = name.lstrip("#").lower()
        if not name:
            return None
        async with self.db.session() as session:
            places = (
                await session.execute(
                    select(Entity.id, Entity.channel_id, Entity.name).where(
                        Entity.community_id == community_id, Entity.platform == platform
                    )
                )
            ).all()
            owners = set(
                await session.scalars(
                    select(Identity.platform_user_id).where(
                        Identity.platform == platform, func.lower(Identity.login) == name
                    )
                )
            )
        for entity_id, channel_id, label in places:
            names = {entity_id, entity_id.rpartition(":")[2], channel_id, label}
            if name in {n.lower() for n in names if n} or channel_id in owners:
                return Place(entity_id, platform, channel_id)
        return None

    async def place(self, community_id: int, entity_id: str) -> Place | None:
        """A place of the community by its id."""
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(Entity.platform, Entity.channel_id).where(
                        Entity.id == entity_id, Entity.community_id == community_id
                    )
                )
            ).first()
        return None if row is None else Place(entity_id, row[0], row[1])

    # ----- setting and cancelling ---------------------------------------------------------

    async def add(
        self,
        community_id: int,
        place: Place,
        when: When,
        text: str,
        *,
        author: Author,
        to_user: str = "",
    ) -> ReminderInfo:
        """A reminder posting ``text`` in ``place``, or privately to the account ``to_user``
        (a platform user id on the place's platform). Everyone may set private reminders;
        reminders for a place are for moderators and up."""
        if not to_user and author.level is not None and author.level < CHANNEL_LEVEL:
            raise NotAllowed(
                f"only {level_name(CHANNEL_LEVEL)} and up can set reminders for a channel; "
                "anyone can set one for themselves"
            )
        text = check_text(text, "a reminder", MAX_TEXT)
        now = self.clock.now()
        zone = await self.zone(community_id)
        due_at = first_due(when, now, zone)
        async with self.db.session() as session:
            number = await next_number(
                session,
                community_id,
                KIND,
                count=Reminder.community_id == community_id,
                limit=MAX_PER_COMMUNITY,
                what="reminders",
            )
            if to_user and author.user_id is not None:
                mine = await session.scalar(
                    select(func.count()).where(
                        Reminder.community_id == community_id,
                        Reminder.created_by_user_id == author.user_id,
                        Reminder.to_user != "",
                    )
                )
                if (mine or 0) >= MAX_PER_USER:
                    raise LimitReached(
                        f"you already have {MAX_PER_USER} reminders for yourself (the limit)"
                    )
            row = Reminder(
                community_id=community_id,
                number=number,
                entity_id=place.entity_id,
                platform=place.platform,
                channel_id=place.channel_id,
                to_user=to_user,
                text=text,
                due_at=due_at,
                repeat=when.repeat,
                weekday=when.weekday,
                time_of_day=when.time_of_day,
                timezone=zone.key,
                created_by=author.name[:256],
                created_by_user_id=author.user_id,
            )
            session.add(row)
            await session.flush()
            info = _info(row)
        detail = {
            "entity_id": place.entity_id,
            "private": bool(to_user),
            "due_at": due_at.isoformat(),
            "repeat": when.repeat,
            "text": text,
        }
        self._changes.record("reminder.add", author.actor, community_id, number, detail)
        return info

    async def list(self, community_id: int, *, viewer: Author) -> builtins.list[ReminderInfo]:
        """The reminders ``viewer`` may see, soonest first: those for places, and their own
        private ones (a service account sees all)."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Reminder)
                .where(Reminder.community_id == community_id, self._visible(viewer))
                .order_by(Reminder.due_at, Reminder.number)
            )
            return [_info(row) for row in rows]

    async def get(self, community_id: int, number: int, *, viewer: Author) -> ReminderInfo | None:
        async with self.db.session() as session:
            row = await session.scalar(
                select(Reminder).where(
                    Reminder.community_id == community_id,
                    Reminder.number == number,
                    self._visible(viewer),
                )
            )
            return None if row is None else _info(row)

    async def cancel(self, community_id: int, number: int, *, author: Author) -> ReminderInfo:
        """Cancel a reminder: one's own, or (moderators and up) anyone's for a place.
        Someone else's private reminder is NotFound, as if it did not exist."""
        async with self.db.session() as session:
            row = await session.scalar(
                select(Reminder)
                .where(
                    Reminder.community_id == community_id,
                    Reminder.number == number,
                    self._visible(author),
                )
                .with_for_update()
            )
            if row is None:
                raise UnknownNumber(KIND, number)
            own = author.user_id is not None and author.user_id == row.created_by_user_id
            if not (own or author.level is None or author.level >= CHANNEL_LEVEL):
                raise NotAllowed(
                    f"only {level_name(CHANNEL_LEVEL)} and up, and whoever set it, can cancel "
                    "a reminder"
                )
            info = _info(row)
            await session.delete(row)
        self._changes.record("reminder.cancel", author.actor, community_id, number)
        return info

    @staticmethod
    def _visible(viewer: Author) -> Any:
        if viewer.unrestricted:
            return Reminder.id.is_not(None)
        if viewer.user_id is None:
            return Reminder.to_user == ""
        return or_(Reminder.to_user == "", Reminder.created_by_user_id == viewer.user_id)

    # ----- sending ------------------------------------------------------------------------

    def _due_query(self, now: datetime) -> DueQuery:
        return (
            select(Reminder, Entity.community_id)
            .join(Entity, Entity.id == Reminder.entity_id)
            .where(
                Reminder.due_at <= now,
                or_(Reminder.claimed_until.is_(None), Reminder.claimed_until <= now),
            )
            .order_by(Reminder.due_at, Reminder.id)
        )

    def _due_item(self, row: DueRow) -> _Due:
        reminder, owner = row
        posts = bool(reminder.to_user) or owner == reminder.community_id
        return _Due(reminder.id, reminder.community_id, reminder.due_at, _info(reminder), posts)

    async def _claim(self, due: Sequence[_Due], now: datetime) -> builtins.list[_Due]:
        token = new_id()
        claimed = []
        async with self.db.session() as session:
            for item in due:  # one at a time, in due order: two claimers never deadlock
                won = await claim_row(
                    session,
                    update(Reminder)
                    .where(
                        Reminder.id == item.id,
                        Reminder.due_at == item.due_at,
                        or_(Reminder.claimed_until.is_(None), Reminder.claimed_until <= now),
                    )
                    .values(claimed_by=token, claimed_until=now + CLAIM)
                    .returning(Reminder.id),
                )
                if won is not None:
                    claimed.append(replace(item, token=token))
        return claimed

    def _community(self, claimed: _Due) -> int:
        return claimed.community_id

    async def _messages(
        self, claimed: Sequence[_Due], now: datetime
    ) -> builtins.list[OutboundMessage]:
        messages = []
        for item in claimed:
            if not item.posts:
                continue
            reminder = item.reminder
            private = reminder.private
            messages.append(
                outbox.message(
                    f"reminder:{item.id}:{int(item.due_at.timestamp())}",
                    reminder.platform,
                    f"Reminder: {reminder.text}",
                    # a private one reaches the person wherever they are on the platform
                    entity_id="" if private else reminder.entity_id,
                    channel_id="" if private else reminder.channel_id,
                    visibility=Visibility.DIRECT if private else Visibility.CHANNEL,
                    to_user=reminder.to_user,
                )
            )
        return messages

    async def _settle(
        self, claimed: Sequence[_Due], now: datetime, *, muted: Collection[int]
    ) -> None:
        async with self.db.session() as session:
            for item in claimed:
                reminder = item.reminder
                sent = item.posts and item.community_id not in muted
                if not item.posts:
                    log.info("reminder not sent: its place left the community", id=item.id)
                mine = (Reminder.id == item.id) & (Reminder.claimed_by == item.token)
                if reminder.repeat == "once":
                    await session.execute(delete(Reminder).where(mine))
                    continue
                following = next_due(
                    reminder.repeat,
                    reminder.weekday,
                    parse_time_of_day(reminder.time_of_day),
                    _zone(reminder.timezone),
                    now,
                )
                await session.execute(
                    update(Reminder)
                    .where(mine)
                    .values(
                        due_at=following,
                        claimed_by="",
                        claimed_until=None,
                        runs=Reminder.runs + (1 if sent else 0),
                        last_run_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, LookupError):
        return UTC
