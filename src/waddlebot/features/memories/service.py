"""Memories: a community's quotes, URLs, notes and reminders (the ``memories`` module and
``/api/v1/memories``)."""

from __future__ import annotations

from sqlalchemy import select

from waddlebot.core.clock import Clock
from waddlebot.core.language import ZoneOf
from waddlebot.features.memories.common import (
    Author,
    LimitReached,
    MemoriesError,
    NotAllowed,
    UnknownNumber,
    utc,
)
from waddlebot.features.memories.notes import NoteInfo, NoteService
from waddlebot.features.memories.quotes import QuoteInfo, QuoteService, Speaker
from waddlebot.features.memories.reminders import Place, ReminderInfo, ReminderService
from waddlebot.features.memories.urls import DuplicateUrl, UrlInfo, UrlService
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import User
from waddlebot.infra.jobs import ALWAYS_ON, CommunitySwitch
from waddlebot.infra.ports import Bus


class Memories:
    """The four services together, as the runtime, the module and the HTTP API use them."""

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
        """``switch``: where the memories module is off (its reminders are not sent there)."""
        self.db = db
        self.zone = zone_of
        self.quotes = QuoteService(db, audit)
        self.urls = UrlService(db, audit)
        self.notes = NoteService(db, audit)
        self.reminders = ReminderService(db, audit, bus, zone_of, clock, switch=switch)

    async def user_name(self, user_id: int) -> str:
        """How a WaddleBot user is called ("" when there is no such user)."""
        async with self.db.session() as session:
            return await session.scalar(select(User.display_name).where(User.id == user_id)) or ""


__all__ = [
    "Author",
    "DuplicateUrl",
    "LimitReached",
    "Memories",
    "MemoriesError",
    "NotAllowed",
    "NoteInfo",
    "NoteService",
    "Place",
    "QuoteInfo",
    "QuoteService",
    "ReminderInfo",
    "ReminderService",
    "Speaker",
    "UnknownNumber",
    "UrlInfo",
    "UrlService",
]
