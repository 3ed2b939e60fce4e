"""The EventSub subscriptions WaddleBot wants for each connected channel, and what Twitch last
said about each one (kept in ``twitch_subscriptions``, visible in the API and the CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from waddlebot.core.events import NO_NUL
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import TwitchSubscription, utcnow
from waddlebot.platforms.fields import Text, problem


@dataclass(frozen=True, slots=True)
class Wanted:
    """One subscription WaddleBot needs: a type, its version and its condition."""

    type: str
    version: str
    condition: dict[str, str] = field(hash=False)

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return (self.type, self.version, tuple(sorted(self.condition.items())))


def wanted_for_channel(broadcaster_id: str, bot_user_id: str) -> list[Wanted]:
    """Everything the bot listens to in one channel."""
    channel = {"broadcaster_user_id": broadcaster_id}
    return [
        Wanted("channel.chat.message", "1", {**channel, "user_id": bot_user_id}),
        Wanted("channel.follow", "2", {**channel, "moderator_user_id": broadcaster_id}),
        Wanted("channel.subscribe", "1", channel),
        Wanted("channel.subscription.gift", "1", channel),
        Wanted("channel.subscription.message", "1", channel),
        Wanted("channel.cheer", "1", channel),
        Wanted("channel.raid", "1", {"to_broadcaster_user_id": broadcaster_id}),
        Wanted("stream.online", "1", channel),
        Wanted("stream.offline", "1", channel),
    ]


def wanted_for_bot(bot_user_id: str) -> list[Wanted]:
    """Whispers to the bot (verification codes come back this way)."""
    return [Wanted("user.whisper.message", "1", {"user_id": bot_user_id})]


class MalformedSubscription(ValueError):
    """A delivery's ``subscription`` that is not one Twitch would describe."""


_TYPE_MAX, _VERSION_MAX = 64, 8  # the lengths of the columns keeping them
# user ids (the column broadcaster_id keeps one)
_ConditionId = Annotated[str, StringConstraints(max_length=64, pattern=NO_NUL)]


class _Transport(BaseModel):
    model_config = ConfigDict(extra="allow")

    method: Text = Field(default="", max_length=16)


class _Described(BaseModel):
    """What WaddleBot reads of a subscription Twitch describes, within what
    ``twitch_subscriptions`` keeps (lengths of its columns; conditions are ids)."""

    model_config = ConfigDict(extra="allow")

    id: Text = Field(min_length=1, max_length=64)
    type: Text = Field(default="", max_length=_TYPE_MAX)
    version: Text = Field(default="", max_length=_VERSION_MAX)
    status: Text = Field(default="", max_length=64)
    condition: dict[Text, _ConditionId | None] = Field(default_factory=dict)
    transport: _Transport = Field(default_factory=_Transport)


def _checked(value: Any) -> _Described:
    try:
        return _Described.model_validate(value)
    except ValidationError as exc:
        raise MalformedSubscription(problem(exc, "subscription")) from exc


def described(value: Any) -> dict[str, Any]:
    """The subscription of a delivery, checked; :class:`MalformedSubscription` naming the
    field that does not fit."""
    return _checked(value).model_dump()


def type_and_version(value: Any) -> tuple[str, str]:
    """A notification's subscription type and version: all a notification needs of it, so
    the rest of it is not read. When those two are not plain text within their lengths, the
    subscription is checked as :func:`described` checks it, for the error naming the field
    (the whole check cost a delivery about a third of what translating its event does)."""
    if isinstance(value, dict):
        kind, version = value.get("type"), value.get("version")
        if (
            isinstance(kind, str)
            and isinstance(version, str)
            and len(kind) <= _TYPE_MAX
            and len(version) <= _VERSION_MAX
            and "\x00" not in kind
            and "\x00" not in version
        ):
            return kind, version
    checked = _checked(value)
    return checked.type, checked.version


def key_of(subscription: Mapping[str, Any]) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    condition = subscription.get("condition") or {}
    return (
        str(subscription.get("type")),
        str(subscription.get("version")),
        tuple(sorted((str(k), str(v)) for k, v in condition.items() if v not in (None, ""))),
    )


def broadcaster_of(condition: Mapping[str, Any]) -> str:
    for name in ("broadcaster_user_id", "to_broadcaster_user_id", "user_id"):
        value = condition.get(name)
        if value:
            return str(value)
    return ""


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    id: str
    type: str
    version: str
    broadcaster_id: str
    condition: dict[str, Any]
    transport: str
    status: str
    created_at: datetime | None = None  # when WaddleBot first recorded it


class SubscriptionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, subscription: Mapping[str, Any], *, status: str | None = None) -> None:
        """Keep (or update) what Twitch said about a subscription. An upsert: the challenge
        of a new webhook subscription can arrive while its creation is being recorded."""
        sub_id = str(subscription.get("id") or "")
        if not sub_id:
            return
        condition = dict(subscription.get("condition") or {})
        transport = subscription.get("transport") or {}
        values = {
            "id": sub_id,
            "type": str(subscription.get("type") or ""),
            "version": str(subscription.get("version") or ""),
            "condition": condition,
            "broadcaster_id": broadcaster_of(condition),
            "transport": str(transport.get("method") or ""),
            "status": status or str(subscription.get("status") or ""),
            "updated_at": utcnow(),
        }
        insert: Any = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        statement = insert(TwitchSubscription).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[TwitchSubscription.id],
            set_={key: statement.excluded[key] for key in values if key != "id"},
        )
        async with self._db.session() as session:
            await session.execute(statement)

    async def forget(self, sub_id: str) -> None:
        async with self._db.session() as session:
            await session.execute(delete(TwitchSubscription).where(TwitchSubscription.id == sub_id))

    async def list(self) -> list[SubscriptionInfo]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(TwitchSubscription).order_by(
                    TwitchSubscription.broadcaster_id, TwitchSubscription.type
                )
            )
            return [
                SubscriptionInfo(
                    r.id,
                    r.type,
                    r.version,
                    r.broadcaster_id,
                    r.condition,
                    r.transport,
                    r.status,
                    r.created_at,
                )
                for r in rows
            ]
