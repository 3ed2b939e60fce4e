"""The module contract: one JSON shape for in-process, HTTP (``!``) and serverless (``#``) modules.

A module receives a :class:`ModuleRequest` and answers with a :class:`ModuleResponse`. Modules never
see platform payloads and never call platform APIs: they return replies, overlay updates and
actions, and the router and collectors carry them out.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from waddlebot.core.events import Amounts, EventType, Platform, new_id
from waddlebot.core.parser import check_prefix
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


class StoreGrant(BaseModel):
    """Lets a module served over HTTP reach its ``ctx.store`` for one request: the bot's store
    endpoint and a short-lived token naming the module, community, channel and person."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(description="the store endpoint, e.g. https://bot.example/api/v1/module-store")
    token: str = Field(description="sent as `Authorization: Bearer <token>`; expires in minutes")


class ModuleRequest(BaseModel):
    """What the router sends a module: a command invocation, an event a module listens to, or
    a run of one of its scheduled handlers (``kind="schedule"``, ``command`` its name)."""

    model_config = ConfigDict(frozen=True)

    contract_version: Literal[1] = CONTRACT_VERSION
    request_id: str = Field(default_factory=new_id)
    session_id: str
    event_id: str = Field(
        default="",
        description="the event's id: the same on every attempt for one event, so a module (or "
        "a serverless function retried) can tell a retry from a new request",
    )
    kind: Literal["command", "event", "schedule"] = "command"
    community_id: int
    entity_id: str
    platform: Platform
    channel_id: str = ""
    message_id: str = ""
    event_type: EventType = EventType.CHAT_MESSAGE
    command: str = Field(default="", description="command name without prefix, lower case")
    prefix: str = Field(
        default="",
        description="'!' (or the community's prefix) or '#'; for an event, set when its chat "
        "line is a command",
    )
    args: list[str] = Field(default_factory=list)
    raw_text: str = ""
    to_bot: bool = Field(
        default=False,
        description="a chat line addressed to the bot (a mention of it, a reply to it) that is "
        "not a command",
    )
    caller: Caller | None = None
    amounts: Amounts = Field(default_factory=Amounts)
    occurred_at: datetime | None = Field(
        default=None, description="when it happened, as the platform says (a stream's start)"
    )
    config: dict[str, Any] = Field(default_factory=dict, description="module settings")
    store: StoreGrant | None = Field(
        default=None, description="how a module served over HTTP reaches its store"
    )


ReplyText = Annotated[str, Field(min_length=1, max_length=20_000)]


class Reply(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: ReplyText
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


class ActionKind(StrEnum):
    """Every action a module may ask for: the union below is closed, so an answer asking for
    any other is invalid (the module's call fails, as with a bad reply)."""

    WHISPER = "whisper"  # a private message, like Reply(visibility=DIRECT)
    SET_PREFIX = "community.prefix"  # change the community's command prefix
    RUN_COMMAND = "command.run"  # run a command line as the caller (an alias expanding)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class WhisperParams(_Frozen):
    text: ReplyText
    to_user: str = Field(default="", description="platform user id; '' for the caller")


class PrefixParams(_Frozen):
    prefix: str = Field(description="1 to 8 characters without spaces, not starting with #")

    @field_validator("prefix")
    @classmethod
    def _valid(cls, prefix: str) -> str:
        return check_prefix(prefix)


class RunCommandParams(_Frozen):
    text: str = Field(description="the command line, prefix included, as if the caller typed it")


class WhisperAction(_Frozen):
    type: Literal[ActionKind.WHISPER]
    params: WhisperParams


class SetPrefixAction(_Frozen):
    type: Literal[ActionKind.SET_PREFIX]
    params: PrefixParams


class RunCommandAction(_Frozen):
    type: Literal[ActionKind.RUN_COMMAND]
    params: RunCommandParams


Action = Annotated[WhisperAction | SetPrefixAction | RunCommandAction, Field(discriminator="type")]
"""``{"type": <ActionKind>, "params": {...}}``, the params checked for that kind."""

_ACTION: TypeAdapter[Action] = TypeAdapter(Action)


def action(kind: str, /, **params: Any) -> Action:
    """The action of that kind with those params; a ``ValidationError`` when the kind is not
    one of :class:`ActionKind` or the params do not fit it."""
    return _ACTION.validate_python({"type": kind, "params": params})


class ModuleResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    contract_version: Literal[1] = CONTRACT_VERSION
    replies: list[Reply] = Field(default_factory=list)
    overlay: list[OverlayUpdate] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    usage_error: str = Field(
        default="", description="set when the arguments were wrong; the router shows usage"
    )
    usage: str = Field(
        default="",
        description="with usage_error: the usage to show after the command's name instead of "
        "the command's own (a subcommand's, e.g. 'give <who> <points>')",
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
    traceparent: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="W3C trace context of the reply's publishing, while tracing is on",
    )
