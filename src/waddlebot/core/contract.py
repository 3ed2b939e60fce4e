"""The module contract: one JSON shape for in-process, HTTP (``!``) and serverless (``#``) modules.

A module receives a :class:`ModuleRequest` and answers with a :class:`ModuleResponse`. Modules never
see platform payloads and never call platform APIs: they return replies, overlay updates and
actions, and the router and collectors carry them out.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from waddlebot.core.events import Amounts, EventType, Platform, new_id
from waddlebot.core.permissions import Level

CONTRACT_VERSION: Literal[1] = 1


class Visibility(StrEnum):
    CHANNEL = "channel"  # everyone in the place sees it
    DIRECT = "direct"  # a private message (whisper / DM) to one person
    EPHEMERAL = "ephemeral"  # only the caller sees it, where the platform can do that


class Identity(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: Platform
    user_id: str
    login: str = ""
    display_name: str = ""


class Caller(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: int | None = Field(default=None, description="WaddleBot user id, when known")
    identity: Identity
    level: int = Field(default=int(Level.EVERYONE), description="effective permission level")

    @property
    def name(self) -> str:
        return self.identity.display_name or self.identity.login or self.identity.user_id


class ModuleRequest(BaseModel):
    """What the router sends a module: a command invocation or an event a module listens to."""

    model_config = ConfigDict(frozen=True)

    contract_version: Literal[1] = CONTRACT_VERSION
    request_id: str = Field(default_factory=new_id)
    session_id: str
    kind: Literal["command", "event"] = "command"
    community_id: int
    entity_id: str
    platform: Platform
    channel_id: str = ""
    message_id: str = ""
    event_type: EventType = EventType.CHAT_MESSAGE
    command: str = Field(default="", description="command name without prefix, lower case")
    prefix: str = Field(default="", description="'!' (or the community's prefix) or '#'")
    args: list[str] = Field(default_factory=list)
    raw_text: str = ""
    caller: Caller | None = None
    amounts: Amounts = Field(default_factory=Amounts)
    occurred_at: datetime | None = Field(
        default=None, description="when it happened, as the platform says (a stream's start)"
    )
    config: dict[str, Any] = Field(default_factory=dict, description="module settings")


class Reply(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str = Field(min_length=1, max_length=20_000)
    visibility: Visibility = Visibility.CHANNEL
    reply_to: str = Field(default="", description="message id to thread under; '' for none")
    to_user: str = Field(default="", description="platform user id for direct replies")
    to_platform: Platform | None = Field(
        default=None,
        description="for a direct reply to an account on another platform (identity linking)",
    )


class OverlayUpdate(BaseModel):
    """An update for the community's OBS overlay pages; docs/overlays.md has each kind's
    payload. The router checks it and refuses one a page could not show."""

    model_config = ConfigDict(frozen=True)

    kind: str = Field(
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="the page: ticker, media, alerts or general; any other kind is shown as a "
        "card on the general page",
    )
    payload: dict[str, Any] = Field(
        default_factory=dict, description='what to show; {"clear": true} empties the page'
    )


class Action(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$", description="e.g. whisper, shoutout")
    params: dict[str, Any] = Field(default_factory=dict)


class ModuleResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    contract_version: Literal[1] = CONTRACT_VERSION
    replies: list[Reply] = Field(default_factory=list)
    overlay: list[OverlayUpdate] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    usage_error: str = Field(
        default="", description="set when the arguments were wrong; the router shows usage"
    )

    @classmethod
    def say(cls, *texts: str, visibility: Visibility = Visibility.CHANNEL) -> ModuleResponse:
        return cls(replies=[Reply(text=text, visibility=visibility) for text in texts])


class OutboundMessage(BaseModel):
    """One message on a ``replies.<platform>`` stream, for that platform's collector to send.

    ``outbound_id`` is stable across redeliveries of the same event, so a collector can skip a
    message it already sent.
    """

    model_config = ConfigDict(frozen=True)

    outbound_id: str
    event_id: str
    session_id: str
    platform: Platform
    entity_id: str = Field(description="the place; '' for a private message across platforms")
    channel_id: str = ""
    thread_id: str = Field(default="", description="the thread the event came from, if any")
    text: str
    visibility: Visibility = Visibility.CHANNEL
    reply_to: str = ""
    to_user: str = ""
