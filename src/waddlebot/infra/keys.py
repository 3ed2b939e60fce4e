"""Stream names and cache keys the router shares with the collectors and the services (which
invalidate its cached entries): below all of them, so none imports another for a name."""

from __future__ import annotations

EVENTS_STREAM = "events"
DEAD_LETTER_STREAM = "events.dead"
ROUTER_GROUP = "router"
DONE_CHANNEL = "sessions.done"
DENIAL_NOTICE_SECONDS = 30  # a refused caller is told at most once in this long per place
# kinds of change every process hears of (infra/changes.py), for the entries below
ENTITY_CHANGES = "entities"  # a place's community, prefix, owner
ROLE_CHANGES = "roles"  # a person's community role
PEOPLE_CHANGES = "people"  # accounts linked or unlinked: identity, role and grant entries
ROLE_LEVEL_CHANGES = "role_levels"  # what a server's platform roles give (Discord's)


def replies_stream(platform: str) -> str:
    return f"replies.{platform}"


def dedupe_key(platform: str, message_id: str) -> str:
    return f"dedupe:{platform}:{message_id}"


def entity_key(entity_id: str) -> str:
    return f"entity:{entity_id}"


def identity_key(platform: str, platform_user_id: str) -> str:
    return f"ident:{platform}:{platform_user_id}"


def role_key(community_id: int, user_id: int) -> str:
    return f"role:{community_id}:{user_id}"


def session_key(session_id: str) -> str:
    return f"session:{session_id}"


def notice_key(entity_id: str, platform_user_id: str, kind: str) -> str:
    """Set while a person has been told "slow down" (or "not allowed") in a place."""
    return f"notice:{kind}:{entity_id}:{platform_user_id}"


def lines_key(entity_id: str) -> str:
    """How many chat lines a place has seen (a counter without expiry; timers read it)."""
    return f"lines:{entity_id}"
