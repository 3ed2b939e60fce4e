"""Slack payloads (Events API ``event`` objects, slash command fields) into canonical events.

Places are channels of a workspace: ``slack:<team>:<channel>`` (a direct message's channel
too: what is said there is a whisper). The workspace itself is ``slack:<team>:``, the place an
install binds to a community; the workspace's channels follow it there.

A message's id is ``<channel>:<ts>``: Slack delivers a message that mentions the bot twice
(``message`` and ``app_mention``), and the same id lets the router answer it once.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from waddlebot.core.events import Author, Event, EventType
from waddlebot.core.parser import SERVERLESS_PREFIX
from waddlebot.platforms.fields import Text, problem
from waddlebot.platforms.roles import slack_roles

PLATFORM = "slack"
SLASH_PREFIX = "/"
MAIN_COMMAND = "/waddle"  # /waddle <command> <args> runs any WaddleBot command
# subtypes that are still a person saying something; the others (bot_message,
# message_changed, message_deleted, channel_join, ...) are not answered
SPOKEN_SUBTYPES = frozenset({None, "", "thread_broadcast", "file_share", "me_message"})
_LEADING_MENTION = re.compile(r"^\s*<@([UW][A-Z0-9]+)(?:\|[^>]*)?>[\s:,]*")


class MalformedPayload(ValueError):
    """A payload that does not have what its type promises."""


_SLACK_ID = re.compile(r"[A-Z0-9]{1,40}")


def _slack_id(value: str) -> str:
    if not _SLACK_ID.fullmatch(value):
        raise ValueError("must be a Slack id (capital letters and digits)")
    return value


SlackId = Annotated[str, AfterValidator(_slack_id)]


class _Checked(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class _Delivery(_Checked):
    """What WaddleBot reads of an ``event_callback`` envelope before its event."""

    event_id: Text = Field(min_length=1, max_length=128)
    team_id: SlackId
    event: dict[str, Any]


class _Said(_Checked):
    """What decides whether a ``message``/``app_mention`` is someone saying something."""

    subtype: Text | None = None
    user: SlackId | None = None


class _Joined(_Checked):
    user: SlackId


class _Command(_Checked):
    """The fields of a slash command WaddleBot reads (all strings, as the form has them)."""

    team_id: SlackId
    channel_id: SlackId
    user_id: SlackId
    command: Text = Field(min_length=1, max_length=64)
    text: Text = ""
    response_url: Text = Field(min_length=1, max_length=2000)
    trigger_id: Text = Field(min_length=1, max_length=256)


def _checked(model: type[BaseModel], payload: Any, root: str) -> Any:
    """``payload`` as ``model`` checks it; :class:`MalformedPayload` naming the first field
    that does not fit."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise MalformedPayload(problem(exc, root)) from exc


def checked_delivery(envelope: Any) -> tuple[str, str, dict[str, Any]]:
    """An ``event_callback``'s event id, team id and event."""
    delivery: _Delivery = _checked(_Delivery, envelope, "envelope")
    return delivery.event_id, delivery.team_id, delivery.event


def check_command(fields: Mapping[str, Any]) -> None:
    """That the fields of a slash command WaddleBot reads are what Slack sends."""
    _checked(_Command, fields, "command")


def joined_user(event: Mapping[str, Any]) -> str:
    """Who a ``member_joined_channel`` event says joined."""
    joined: _Joined = _checked(_Joined, event, "event")
    return joined.user


@dataclass(frozen=True, slots=True)
class Person:
    """What ``users.info`` says of someone (names, and the workspace roles)."""

    user_id: str
    login: str = ""
    display_name: str = ""
    is_owner: bool = False
    is_admin: bool = False
    is_bot: bool = False

    @classmethod
    def from_user(cls, user: Mapping[str, Any], team_id: str) -> Person:
        """From a ``users.info`` user. Someone from another organisation in a shared channel
        (Slack Connect) is an owner or admin of their own workspace, not of this one."""
        found = user.get("profile")
        profile: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        home = user.get("team_id")
        ours = not home or home == team_id
        return cls(
            user_id=str(user.get("id") or ""),
            login=str(user.get("name") or ""),
            display_name=str(profile.get("display_name") or user.get("real_name") or ""),
            is_owner=ours and bool(user.get("is_owner") or user.get("is_primary_owner")),
            is_admin=ours and bool(user.get("is_admin")),
            is_bot=bool(user.get("is_bot")),
        )

    def author(self) -> Author:
        """Raises :class:`MalformedPayload` for an id no author can have (the callers check
        ids first; names are cut to fit)."""
        return _author_of(self)


@functools.lru_cache(maxsize=4096)
def _author_of(person: Person) -> Author:
    """One :class:`Author` (frozen) per person as last described: everyone who speaks often
    is checked once, not on each of their messages."""
    try:
        return Author(
            user_id=person.user_id,
            login=person.login[:128],
            display_name=person.display_name[:256],
            roles=slack_roles(is_owner=person.is_owner, is_admin=person.is_admin),
        )
    except ValidationError as exc:
        raise MalformedPayload(problem(exc, "user")) from exc


def workspace_entity(team_id: str) -> str:
    return f"{PLATFORM}:{team_id}:"


def entity_id(team_id: str, channel_id: str) -> str:
    return f"{PLATFORM}:{team_id}:{channel_id}"


def message_id(channel_id: str, ts: str) -> str:
    return f"{channel_id}:{ts}"


def speaker(event: Mapping[str, Any], bot_user_id: str) -> str | None:
    """Who said a ``message``/``app_mention`` worth answering; None for the bot's own
    messages, other bots', edits, deletions and the other subtypes."""
    said: _Said = _checked(_Said, event, "event")
    if said.subtype not in SPOKEN_SUBTYPES or event.get("bot_id") or event.get("hidden"):
        return None
    if said.user is None or said.user == bot_user_id:
        return None
    return said.user


def message(team_id: str, event: Mapping[str, Any], person: Person, *, bot_user_id: str) -> Event:
    """A ``message`` or ``app_mention`` (a leading mention of the bot is dropped, so
    ``@waddlebot !ping`` is ``!ping``). It is addressed to the bot when it is an
    ``app_mention``, mentions the bot, or is said in a thread the bot started
    (``parent_user_id``)."""
    channel = _text(event, "channel")
    ts = _text(event, "ts")
    text = html.unescape(str(event.get("text") or ""))  # Slack escapes &, < and >
    mention = _LEADING_MENTION.match(text)
    if mention and mention.group(1) == bot_user_id:
        text = text[mention.end() :]
    to_bot = bool(bot_user_id) and (
        event.get("type") == "app_mention"
        or bool(mention and mention.group(1) == bot_user_id)
        or f"<@{bot_user_id}" in text
        or event.get("parent_user_id") == bot_user_id
    )
    thread = str(event.get("thread_ts") or "")
    direct = event.get("channel_type") == "im" or channel.startswith("D")
    return _event(
        entity_id=entity_id(team_id, channel),
        server_id=team_id,
        channel_id=channel,
        thread_id=thread if thread and thread != ts else "",
        message_id=message_id(channel, ts),
        type=EventType.WHISPER if direct else EventType.CHAT_MESSAGE,
        author=person.author(),
        text=text,
        to_bot=to_bot,
    )


def member_joined(team_id: str, event: Mapping[str, Any], person: Person) -> Event:
    channel = _text(event, "channel")
    return _event(
        entity_id=entity_id(team_id, channel),
        server_id=team_id,
        channel_id=channel,
        message_id=f"join:{channel}:{person.user_id}:{event.get('event_ts') or ''}",
        type=EventType.MEMBER_JOIN,
        author=person.author(),
    )


def slash_command(fields: Mapping[str, Any], person: Person) -> Event:
    """``/waddle quote 12`` is the command ``quote 12`` (``/waddle`` alone asks for help),
    ``/waddle #8ball ...`` the serverless command; another slash command the app registered,
    ``/quote 12``, is itself."""
    team, channel = _text(fields, "team_id"), _text(fields, "channel_id")
    command = _text(fields, "command")
    text = str(fields.get("text") or "").strip()
    if command == MAIN_COMMAND:
        words = text if text.startswith(SERVERLESS_PREFIX) else f"{SLASH_PREFIX}{text or 'help'}"
    else:
        words = f"{command} {text}".strip()
    return _event(
        entity_id=entity_id(team, channel),
        server_id=team,
        channel_id=channel,
        message_id=_text(fields, "trigger_id"),
        type=EventType.SLASH_COMMAND,
        author=person.author(),
        text=words,
    )


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{key!r} is missing")
    return value


def _event(**fields: Any) -> Event:
    try:
        return Event(platform=PLATFORM, **fields)
    except ValidationError as exc:
        raise MalformedPayload(f"the payload does not fit: {exc.errors()[0]['msg']}") from exc
