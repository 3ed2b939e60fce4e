"""EventSub event bodies built from the official examples in ``tests/fixtures/twitch``, so tests
change only what they care about instead of writing Twitch JSON by hand.

People are given as ``User`` objects (``twitch.add_user`` returns them) or as a bare user id;
left out, they keep the official example's ids and names."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from .model import User
from .wire import new_uuid

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "twitch"

Person = User | str


def _person(who: Person) -> User:
    return who if isinstance(who, User) else User(who)


@cache
def _load(type_: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{type_}.json").read_text())
    return loaded


def example(type_: str) -> dict[str, Any]:
    """The whole official example (``subscription`` and ``event``), a fresh copy."""
    return copy.deepcopy(_load(type_))


def example_event(type_: str, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = example(type_)["event"]
    event.update(overrides)
    return event


def version_of(type_: str) -> str:
    return str(_load(type_)["subscription"]["version"])


def _prefixed(prefix: str, who: Person | None) -> dict[str, str]:
    """The ``<prefix>_id/_login/_name`` fields for ``who``; none (keep the example's) for None."""
    if who is None:
        return {}
    user = _person(who)
    return {
        f"{prefix}_id": user.id,
        f"{prefix}_login": user.login,
        f"{prefix}_name": user.display_name,
    }


def _badge(badge: str | dict[str, str]) -> dict[str, str]:
    """``"moderator"``, ``"subscriber/12"`` or a full badge object."""
    if isinstance(badge, dict):
        return badge
    set_id, _, version = badge.partition("/")
    return {"set_id": set_id, "id": version or "1", "info": ""}


def chat_message(
    *,
    broadcaster: Person | None = None,
    chatter: Person | None = None,
    text: str = "Hi chat",
    badges: Sequence[str | dict[str, str]] = (),
    reply_to: dict[str, Any] | None = None,
    message_id: str | None = None,
    color: str = "#00FF7F",
    **overrides: Any,
) -> dict[str, Any]:
    """A ``channel.chat.message`` event; ``reply_to`` is the parent's event (from this builder)."""
    event = example_event("channel.chat.message")
    event.update(_prefixed("broadcaster_user", broadcaster))
    event.update(_prefixed("chatter_user", chatter))
    fragment = {"type": "text", "text": text, "cheermote": None, "emote": None, "mention": None}
    event.update(
        message_id=message_id or new_uuid(),
        message={"text": text, "fragments": [fragment]},
        color=color,
        badges=[_badge(b) for b in badges],
        reply=None,
    )
    if reply_to is not None:
        thread = reply_to.get("reply") or {}
        event["reply"] = {
            "parent_message_id": reply_to["message_id"],
            "parent_message_body": reply_to["message"]["text"],
            "parent_user_id": reply_to["chatter_user_id"],
            "parent_user_login": reply_to["chatter_user_login"],
            "parent_user_name": reply_to["chatter_user_name"],
            "thread_message_id": thread.get("thread_message_id", reply_to["message_id"]),
            "thread_user_id": thread.get("thread_user_id", reply_to["chatter_user_id"]),
            "thread_user_login": thread.get("thread_user_login", reply_to["chatter_user_login"]),
            "thread_user_name": thread.get("thread_user_name", reply_to["chatter_user_name"]),
        }
    event.update(overrides)
    return event


def follow(
    *, broadcaster: Person | None = None, user: Person | None = None, **overrides: Any
) -> dict[str, Any]:
    event = example_event("channel.follow")
    event.update(_prefixed("broadcaster_user", broadcaster), **_prefixed("user", user))
    event.update(overrides)
    return event


def subscribe(
    *,
    broadcaster: Person | None = None,
    user: Person | None = None,
    tier: str = "1000",
    is_gift: bool = False,
) -> dict[str, Any]:
    event = example_event("channel.subscribe", tier=tier, is_gift=is_gift)
    event.update(_prefixed("broadcaster_user", broadcaster), **_prefixed("user", user))
    return event


def subscription_gift(
    *,
    broadcaster: Person | None = None,
    gifter: Person | None = None,
    anonymous: bool = False,
    total: int = 1,
    tier: str = "1000",
    cumulative_total: int | None = None,
) -> dict[str, Any]:
    """An anonymous gift has null user fields and a null cumulative total."""
    event = example_event(
        "channel.subscription.gift",
        total=total,
        tier=tier,
        cumulative_total=cumulative_total,
        is_anonymous=anonymous,
    )
    event.update(_prefixed("broadcaster_user", broadcaster), **_prefixed("user", gifter))
    if anonymous:
        event.update(user_id=None, user_login=None, user_name=None, cumulative_total=None)
    return event


def subscription_message(
    *,
    broadcaster: Person | None = None,
    user: Person | None = None,
    text: str = "Love the stream!",
    tier: str = "1000",
    cumulative_months: int = 15,
    streak_months: int | None = 1,
    duration_months: int = 1,
) -> dict[str, Any]:
    event = example_event(
        "channel.subscription.message",
        tier=tier,
        message={"text": text, "emotes": []},
        cumulative_months=cumulative_months,
        streak_months=streak_months,
        duration_months=duration_months,
    )
    event.update(_prefixed("broadcaster_user", broadcaster), **_prefixed("user", user))
    return event


def cheer(
    *,
    broadcaster: Person | None = None,
    user: Person | None = None,
    anonymous: bool = False,
    bits: int = 1000,
    message: str = "pogchamp",
) -> dict[str, Any]:
    """An anonymous cheer has null user fields."""
    event = example_event("channel.cheer", bits=bits, message=message, is_anonymous=anonymous)
    event.update(_prefixed("broadcaster_user", broadcaster), **_prefixed("user", user))
    if anonymous:
        event.update(user_id=None, user_login=None, user_name=None)
    return event


def raid(
    *,
    from_broadcaster: Person | None = None,
    to_broadcaster: Person | None = None,
    viewers: int = 9001,
) -> dict[str, Any]:
    event = example_event("channel.raid", viewers=viewers)
    event.update(_prefixed("from_broadcaster_user", from_broadcaster))
    event.update(_prefixed("to_broadcaster_user", to_broadcaster))
    return event


def stream_online(
    *,
    broadcaster: Person | None = None,
    stream_id: str = "9001",
    started_at: str = "2020-10-11T10:11:12.123Z",
) -> dict[str, Any]:
    event = example_event("stream.online", id=stream_id, started_at=started_at)
    event.update(_prefixed("broadcaster_user", broadcaster))
    return event


def stream_offline(*, broadcaster: Person | None = None) -> dict[str, Any]:
    event = example_event("stream.offline")
    event.update(_prefixed("broadcaster_user", broadcaster))
    return event


def whisper(
    *, from_user: Person | None = None, to_user: Person | None = None, text: str = "a secret"
) -> dict[str, Any]:
    event = example_event("user.whisper.message", whisper_id=new_uuid(), whisper={"text": text})
    event.update(_prefixed("from_user", from_user), **_prefixed("to_user", to_user))
    return event
