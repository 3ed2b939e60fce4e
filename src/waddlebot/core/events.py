"""The canonical event: what every collector turns a platform payload into.

Versioned with ``schema_version``; ``docs/events.md`` describes every field and
``waddlebot schema`` exports the JSON Schema from these models.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from waddlebot.core.permissions import PlatformRole

EVENT_SCHEMA_VERSION: Literal[1] = 1

# The platform registry (waddlebot.platforms) is the source of truth, but core imports
# nothing of the package: the names are restated here as a Literal, which mypy checks and the
# exported event schema lists as an enum, and tests/unit/test_platform_registry.py keeps the
# two equal (a plain str checked against the registry would lose both).
Platform = Literal["console", "twitch", "discord", "slack"]
PLATFORMS: tuple[str, ...] = get_args(Platform)


class EventType(StrEnum):
    CHAT_MESSAGE = "chat_message"
    SLASH_COMMAND = "slash_command"
    WHISPER = "whisper"
    FOLLOW = "follow"
    SUBSCRIBE = "subscribe"
    GIFT_SUBSCRIBE = "gift_subscribe"
    CHEER = "cheer"
    RAID = "raid"
    STREAM_ONLINE = "stream_online"
    STREAM_OFFLINE = "stream_offline"
    MEMBER_JOIN = "member_join"
    MEMBER_LEAVE = "member_leave"
    REACTION = "reaction"
    BOOST = "boost"


TEXT_EVENTS = frozenset({EventType.CHAT_MESSAGE, EventType.SLASH_COMMAND, EventType.WHISPER})


_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))  # no twins after fork


def new_id() -> str:
    """A unique 32-hex-digit id for events, sessions and requests. These ids are not secrets,
    so a seeded PRNG is used rather than uuid4's system call on every event (hot path)."""
    return f"{_ids.getrandbits(128):032x}"


def utcnow() -> datetime:
    return datetime.now(UTC)


# Databases (PostgreSQL) refuse NUL in text: every text field refuses it here, with a clear
# error, before it gets anywhere. A pattern is checked in pydantic's core; a Python validator
# per field cost several microseconds on every event the router decodes.
NO_NUL = r"^[^\x00]*$"
NUL_REFUSED = "must not contain NUL characters"
Text = Annotated[str, StringConstraints(pattern=NO_NUL)]


def nul_message(error: Mapping[str, Any]) -> str:
    """A validation error's message, saying so plainly when the text held a NUL."""
    if error.get("type") == "string_pattern_mismatch" and (
        (error.get("ctx") or {}).get("pattern") == NO_NUL
    ):
        return NUL_REFUSED
    return str(error.get("msg", ""))


class Author(BaseModel):
    """One account on one platform, as the platform describes it in this place."""

    model_config = ConfigDict(frozen=True)

    user_id: Text = Field(min_length=1, max_length=128, description="platform user id")
    login: Text = Field(default="", max_length=128)
    display_name: Text = Field(default="", max_length=256)
    roles: tuple[PlatformRole, ...] = Field(
        default=(), description="platform roles in this place, e.g. owner, moderator, vip"
    )

    @property
    def name(self) -> str:
        return self.display_name or self.login or self.user_id


class Amounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    bits: int | None = Field(default=None, ge=0)
    months: int | None = Field(default=None, ge=0)
    viewers: int | None = Field(default=None, ge=0)
    tier: Text | None = Field(default=None, max_length=16)
    count: int | None = Field(default=None, ge=0, description="gift count and the like")


class Event(BaseModel):
    """A thing that happened in one place on one platform."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = EVENT_SCHEMA_VERSION
    event_id: Text = Field(default_factory=new_id, max_length=64)
    platform: Platform
    entity_id: Text = Field(
        min_length=3, max_length=256, description="e.g. twitch:1337, discord:<guild>:<channel>"
    )
    server_id: Text = Field(default="", max_length=128)
    channel_id: Text = Field(default="", max_length=128)
    thread_id: Text = Field(default="", max_length=128)
    message_id: Text = Field(
        min_length=1, max_length=256, description="the platform's id; redeliveries share it"
    )
    type: EventType = EventType.CHAT_MESSAGE
    author: Author | None = None
    text: Text = Field(default="", max_length=10_000)
    reply_to: Text = Field(default="", max_length=256, description="message id this answers")
    to_bot: bool = Field(
        default=False,
        description="addressed to the bot: it mentions the bot or replies to the bot's message",
    )
    amounts: Amounts = Field(default_factory=Amounts)
    occurred_at: datetime = Field(default_factory=utcnow)
    raw: dict[str, Any] = Field(default_factory=dict, description="platform payload, for audit")

    @field_validator("entity_id")
    @classmethod
    def _entity_names_its_platform(cls, value: str) -> str:
        platform, sep, rest = value.partition(":")
        if not sep or not rest or platform not in PLATFORMS:
            raise ValueError("entity_id must look like '<platform>:<id>', e.g. 'twitch:1337'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Event:
        if not self.entity_id.startswith(self.platform + ":"):
            raise ValueError(
                f"entity_id {self.entity_id!r} does not belong to platform {self.platform!r}"
            )
        if self.type in TEXT_EVENTS and self.author is None:
            raise ValueError(f"a {self.type.value} event needs an author")
        return self

    @property
    def dedupe_key(self) -> str:
        return f"{self.platform}:{self.message_id}"
