"""Twitch EventSub notifications as canonical events.

One function per subscription type; :func:`translate` picks by type and version. The
notification's message id (``Twitch-Eventsub-Message-Id`` / ``metadata.message_id``) is the
event's ``message_id`` — Twitch keeps it on redelivery, so the router's dedupe catches a
redelivered follow as surely as a redelivered chat line — except for chat messages and
whispers, which carry their own ids (what a reply threads to).

Payloads are parsed JSON, so an object in one is a ``dict``: that is what is checked for,
not ``Mapping`` (an abstract-class check is a Python call, several on every chat line).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from waddlebot.core.events import Amounts, Event, EventType
from waddlebot.core.permissions import PlatformRole
from waddlebot.platforms.roles import twitch_roles
from waddlebot.platforms.twitch.times import MAX_AHEAD, parse_timestamp

PLATFORM = "twitch"


class UnsupportedSubscription(ValueError):
    """A subscription type (or version) WaddleBot does not ask for."""


class MalformedNotification(ValueError):
    """A notification whose event lacks what its type promises."""


class StreamLike(Protocol):
    """A live stream as Helix describes it (``helix.StreamInfo``)."""

    @property
    def id(self) -> str: ...

    @property
    def started_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Notification:
    message_id: str
    subscription_type: str
    subscription_version: str
    event: Mapping[str, Any]
    timestamp: datetime | None = None


NO_AMOUNTS = Amounts()  # shared by the events that have none (it is frozen)


def entity_id(broadcaster_id: str) -> str:
    return f"{PLATFORM}:{broadcaster_id}"


def _text(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedNotification(f"the event has no {key!r}")
    return value


def _optional(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    return value if isinstance(value, str) else ""


def _author(
    event: Mapping[str, Any], prefix: str, roles: tuple[PlatformRole, ...] = ()
) -> dict[str, Any] | None:
    """``user_id``/``user_login``/``user_name`` (or ``chatter_...``, ``from_...``); None
    for an anonymous gift or cheer, where Twitch sends nulls. The fields of an
    :class:`Author`, validated with the event they are given to (one validation, not two)."""
    user_id = event.get(f"{prefix}_id")
    if not isinstance(user_id, str) or not user_id:
        return None
    return {
        "user_id": user_id,
        "login": _optional(event, f"{prefix}_login"),
        "display_name": _optional(event, f"{prefix}_name"),
        "roles": roles,
    }


def _place(event: Mapping[str, Any], key: str = "broadcaster_user_id") -> dict[str, Any]:
    broadcaster = _text(event, key)
    return {"platform": PLATFORM, "entity_id": entity_id(broadcaster), "channel_id": broadcaster}


def _message_text(event: Mapping[str, Any]) -> str:
    message = event.get("message")
    if isinstance(message, dict):
        return str(message.get("text") or "")
    return message if isinstance(message, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def badges(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A chat message's badges (``[{"set_id": "moderator", ...}]``); the bot's own lines
    are read for them too (its badges say where it moderates)."""
    found = event.get("badges") or []
    if not isinstance(found, list):
        raise MalformedNotification("badges is not a list")
    return [badge for badge in found if isinstance(badge, dict)]


def _chat_message(n: Notification, bot_user_id: str = "") -> Event:
    event = n.event
    roles = twitch_roles(badges(event))
    reply = event.get("reply") if isinstance(event.get("reply"), dict) else None
    cheer = event.get("cheer") if isinstance(event.get("cheer"), dict) else None
    author = _author(event, "chatter_user", roles)
    if author is None:
        raise MalformedNotification("the event has no 'chatter_user_id'")
    to_bot = bool(bot_user_id) and _to_bot(event, reply, bot_user_id)
    return Event(
        **_place(event),
        message_id=_text(event, "message_id"),
        type=EventType.CHAT_MESSAGE,
        author=author,
        text=_without_leading_mention(event, bot_user_id) if to_bot else _message_text(event),
        reply_to=_optional(reply, "parent_message_id") if reply else "",
        thread_id=_optional(reply, "thread_message_id") if reply else "",
        amounts=Amounts(bits=_int(cheer.get("bits"))) if cheer else NO_AMOUNTS,
        to_bot=to_bot,
    )


def _fragments(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    message = event.get("message")
    found = message.get("fragments") if isinstance(message, dict) else None
    if not isinstance(found, list):
        return []
    return [fragment for fragment in found if isinstance(fragment, dict)]


def _mentions(fragment: Mapping[str, Any], user_id: str) -> bool:
    mention = fragment.get("mention")
    return isinstance(mention, dict) and mention.get("user_id") == user_id


def _to_bot(event: Mapping[str, Any], reply: Mapping[str, Any] | None, bot_user_id: str) -> bool:
    """Whether the line replies to the bot (``reply.parent_user_id``) or mentions it (a
    ``mention`` fragment of the message naming the bot's user id)."""
    if reply and reply.get("parent_user_id") == bot_user_id:
        return True
    return any(_mentions(fragment, bot_user_id) for fragment in _fragments(event))


def _without_leading_mention(event: Mapping[str, Any], bot_user_id: str) -> str:
    """The text with a leading mention of the bot dropped (a reply's automatic ``@bot``
    too), so ``@bot !ping`` is the command ``!ping`` and ``@bot hi?`` asks ``hi?``."""
    text = _message_text(event)
    fragments = _fragments(event)
    if not fragments or not _mentions(fragments[0], bot_user_id):
        return text
    mention = str(fragments[0].get("text") or "")
    if not mention or not text.startswith(mention):
        return text
    return text[len(mention) :].lstrip(" ,:")


def _follow(n: Notification) -> Event:
    return Event(
        **_place(n.event),
        message_id=n.message_id,
        type=EventType.FOLLOW,
        author=_author(n.event, "user"),
    )


def _subscribe(n: Notification) -> Event:
    return Event(
        **_place(n.event),
        message_id=n.message_id,
        type=EventType.SUBSCRIBE,
        author=_author(n.event, "user"),
        amounts=Amounts(tier=_optional(n.event, "tier") or None),
    )


def _resubscribe(n: Notification) -> Event:
    """``channel.subscription.message``: a resub shared in chat, with its months."""
    return Event(
        **_place(n.event),
        message_id=n.message_id,
        type=EventType.SUBSCRIBE,
        author=_author(n.event, "user"),
        text=_message_text(n.event),
        amounts=Amounts(
            tier=_optional(n.event, "tier") or None,
            months=_int(n.event.get("cumulative_months")),
        ),
    )


def _gift(n: Notification) -> Event:
    anonymous = n.event.get("is_anonymous") is True
    return Event(
        **_place(n.event),
        message_id=n.message_id,
        type=EventType.GIFT_SUBSCRIBE,
        author=None if anonymous else _author(n.event, "user"),
        amounts=Amounts(tier=_optional(n.event, "tier") or None, count=_int(n.event.get("total"))),
    )


def _cheer(n: Notification) -> Event:
    bits = _int(n.event.get("bits"))
    if bits is None:
        raise MalformedNotification("the event has no 'bits'")
    anonymous = n.event.get("is_anonymous") is True
    return Event(
        **_place(n.event),
        message_id=n.message_id,
        type=EventType.CHEER,
        author=None if anonymous else _author(n.event, "user"),
        text=_message_text(n.event),
        amounts=Amounts(bits=bits),
    )


def _raid(n: Notification) -> Event:
    return Event(
        **_place(n.event, "to_broadcaster_user_id"),
        message_id=n.message_id,
        type=EventType.RAID,
        author=_author(n.event, "from_broadcaster_user"),
        amounts=Amounts(viewers=_int(n.event.get("viewers"))),
    )


def _online(n: Notification) -> Event:
    started = n.event.get("started_at")
    stream = n.event.get("id")
    extra: dict[str, Any] = {}
    if isinstance(started, str):
        try:
            extra["occurred_at"] = at = parse_timestamp(started)
        except ValueError as exc:
            raise MalformedNotification("started_at is not an RFC 3339 time") from exc
        # live state is ordered by these times: one from the future would outlast every
        # stream.offline after it
        if n.timestamp is not None and at - n.timestamp > MAX_AHEAD:
            raise MalformedNotification("started_at is after the notification was sent")
    # the stream's own id, so the collector's poll of the same stream is the same event
    message_id = f"stream-online:{stream}" if isinstance(stream, str) and stream else n.message_id
    return Event(**_place(n.event), message_id=message_id, type=EventType.STREAM_ONLINE, **extra)


def _offline(n: Notification) -> Event:
    return Event(**_place(n.event), message_id=n.message_id, type=EventType.STREAM_OFFLINE)


def stream_online(broadcaster_id: str, stream: StreamLike) -> Event:
    """What the collector's poll found live, as the event stream.online would have given."""
    return _stream_news(
        broadcaster_id, f"stream-online:{stream.id}", EventType.STREAM_ONLINE, stream.started_at
    )


def stream_offline(broadcaster_id: str, since: datetime, now: datetime) -> Event:
    """What the collector's poll found offline (the stream that began at ``since``)."""
    message_id = f"stream-offline:{broadcaster_id}:{int(since.timestamp())}"
    return _stream_news(broadcaster_id, message_id, EventType.STREAM_OFFLINE, now)


def _stream_news(broadcaster_id: str, message_id: str, kind: EventType, at: datetime) -> Event:
    place = _place({"broadcaster_user_id": broadcaster_id})
    return Event(**place, message_id=message_id, type=kind, occurred_at=at)


def _whisper(n: Notification) -> Event:
    """A whisper to the bot: its place is the bot's own channel."""
    whisper = n.event.get("whisper")
    text = whisper.get("text") if isinstance(whisper, dict) else None
    if not isinstance(text, str):
        raise MalformedNotification("the event has no whisper text")
    return Event(
        **_place(n.event, "to_user_id"),
        message_id=_optional(n.event, "whisper_id") or n.message_id,
        type=EventType.WHISPER,
        author=_author(n.event, "from_user"),
        text=text,
    )


TRANSLATORS: dict[tuple[str, str], Callable[[Notification], Event]] = {
    ("channel.chat.message", "1"): _chat_message,
    ("channel.follow", "2"): _follow,
    ("channel.subscribe", "1"): _subscribe,
    ("channel.subscription.gift", "1"): _gift,
    ("channel.subscription.message", "1"): _resubscribe,
    ("channel.cheer", "1"): _cheer,
    ("channel.raid", "1"): _raid,
    ("stream.online", "1"): _online,
    ("stream.offline", "1"): _offline,
    ("user.whisper.message", "1"): _whisper,
}


def translate(notification: Notification, *, bot_user_id: str = "") -> Event | None:
    """The canonical event, or None for what the bot must not react to (its own chat
    lines). Raises :class:`UnsupportedSubscription` or :class:`MalformedNotification`."""
    key = (notification.subscription_type, notification.subscription_version)
    translator = TRANSLATORS.get(key)
    if translator is None:
        raise UnsupportedSubscription(
            f"subscription type {key[0]!r} version {key[1]!r} is not one WaddleBot uses"
        )
    if not isinstance(notification.event, dict):
        raise MalformedNotification("the notification has no event object")
    if key[0] == "channel.chat.message":
        event = notification.event
        if bot_user_id and event.get("chatter_user_id") == bot_user_id:
            return None  # the bot's own message, echoed back: never answer it
        source = event.get("source_broadcaster_user_id")
        if source and source != event.get("broadcaster_user_id"):
            return None  # shared chat: said in a partner's channel, handled by its own bot
    try:
        if translator is _chat_message:
            return _chat_message(notification, bot_user_id)
        return translator(notification)
    except ValidationError as exc:
        raise MalformedNotification(f"the event does not fit: {exc.errors()[0]['msg']}") from exc
