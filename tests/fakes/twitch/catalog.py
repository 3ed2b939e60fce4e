"""The EventSub subscription types the fake supports: their conditions, who must authorize them
with which scopes, and how a condition picks the events it receives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EventType:
    name: str
    version: str
    condition: tuple[str, ...]
    # The condition key naming the user who must have authorized the app (None: public event).
    authorizer: str | None = None
    # The authorizer must hold one of these scope sets.
    scopes: tuple[frozenset[str], ...] = ()
    # Condition key -> the event field it filters on (None: it does not filter events).
    filters: Mapping[str, str | None] = field(default_factory=dict)
    # channel.raid takes exactly one of its two keys.
    exactly_one: bool = False
    # Condition keys that may be left out.
    optional: tuple[str, ...] = ()


def _scopes(*sets: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(s.split()) for s in sets)


_BROADCASTER = {"broadcaster_user_id": "broadcaster_user_id"}

TYPES: dict[tuple[str, str], EventType] = {
    (t.name, t.version): t
    for t in (
        EventType(
            "channel.chat.message",
            "1",
            ("broadcaster_user_id", "user_id"),
            authorizer="user_id",
            scopes=_scopes("user:read:chat"),
            filters={"broadcaster_user_id": "broadcaster_user_id", "user_id": None},
        ),
        EventType(
            "channel.follow",
            "2",
            ("broadcaster_user_id", "moderator_user_id"),
            authorizer="moderator_user_id",
            scopes=_scopes("moderator:read:followers"),
            filters={"broadcaster_user_id": "broadcaster_user_id", "moderator_user_id": None},
        ),
        EventType(
            "channel.subscribe",
            "1",
            ("broadcaster_user_id",),
            authorizer="broadcaster_user_id",
            scopes=_scopes("channel:read:subscriptions"),
            filters=_BROADCASTER,
        ),
        EventType(
            "channel.subscription.gift",
            "1",
            ("broadcaster_user_id",),
            authorizer="broadcaster_user_id",
            scopes=_scopes("channel:read:subscriptions"),
            filters=_BROADCASTER,
        ),
        EventType(
            "channel.subscription.message",
            "1",
            ("broadcaster_user_id",),
            authorizer="broadcaster_user_id",
            scopes=_scopes("channel:read:subscriptions"),
            filters=_BROADCASTER,
        ),
        EventType(
            "channel.cheer",
            "1",
            ("broadcaster_user_id",),
            authorizer="broadcaster_user_id",
            scopes=_scopes("bits:read"),
            filters=_BROADCASTER,
        ),
        EventType(
            "channel.raid",
            "1",
            ("from_broadcaster_user_id", "to_broadcaster_user_id"),
            filters={
                "from_broadcaster_user_id": "from_broadcaster_user_id",
                "to_broadcaster_user_id": "to_broadcaster_user_id",
            },
            exactly_one=True,
        ),
        EventType("stream.online", "1", ("broadcaster_user_id",), filters=_BROADCASTER),
        EventType("stream.offline", "1", ("broadcaster_user_id",), filters=_BROADCASTER),
        EventType(
            "conduit.shard.disabled",
            "1",
            ("client_id", "conduit_id"),
            filters={"client_id": None, "conduit_id": "conduit_id"},
            optional=("conduit_id",),
        ),
        EventType(
            "user.whisper.message",
            "1",
            ("user_id",),
            authorizer="user_id",
            scopes=_scopes("user:read:whispers", "user:manage:whispers"),
            filters={"user_id": "to_user_id"},
        ),
    )
}


def lookup(name: str, version: str) -> EventType | None:
    return TYPES.get((name, version))


def condition_problem(kind: EventType, condition: Any) -> str | None:
    """Why ``condition`` is not valid for ``kind``, or None."""
    if not isinstance(condition, dict):
        return "condition must be an object"
    unknown = set(condition) - set(kind.condition)
    if unknown:
        return f"unknown condition field(s): {', '.join(sorted(unknown))}"
    given = [k for k in kind.condition if condition.get(k) not in (None, "")]
    if any(not isinstance(condition[k], str) for k in given):
        return "condition values must be strings"
    if kind.exactly_one:
        return None if len(given) == 1 else f"specify exactly one of {', '.join(kind.condition)}"
    missing = [k for k in kind.condition if k not in given and k not in kind.optional]
    return f"missing condition field(s): {', '.join(missing)}" if missing else None


def receives(kind: EventType, condition: Mapping[str, str], event: Mapping[str, Any]) -> bool:
    """Whether a subscription with ``condition`` receives ``event``."""
    for key, event_field in kind.filters.items():
        wanted = condition.get(key)
        if event_field is not None and wanted and event.get(event_field) != wanted:
            return False
    return True


def main_user(kind: EventType, condition: Mapping[str, str]) -> str | None:
    """The user a subscription is about (for cost and the ``user_id`` list filter)."""
    if kind.authorizer:
        return condition.get(kind.authorizer)
    return next((condition[k] for k in kind.condition if condition.get(k)), None)
