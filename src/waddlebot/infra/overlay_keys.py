"""The broadcast channel and cache keys overlays share between router and browser-source
processes."""

from __future__ import annotations

STATE_SECONDS = 6 * 3600  # the longest a kept state (a sticky card...) is replayed


def channel(community_id: int) -> str:
    """Updates for every open overlay page of a community, and control messages."""
    return f"overlay.{community_id}"


def state_key(community_id: int, page: str) -> str:
    """What a page of that kind shows now (a JSON list of updates), replayed on connect."""
    return f"overlay:state:{community_id}:{page}"


def live_key(community_id: int) -> str:
    """Set while any browser-source process has a page of the community open."""
    return f"overlay:live:{community_id}"


def ticker_window_key(community_id: int, minute: int) -> str:
    """How many bot replies went to the community's ticker in that minute."""
    return f"overlay:ticker:{community_id}:{minute}"


def token_key(token_hash: str) -> str:
    """The community an overlay token belongs to, cached."""
    return f"overlay:token:{token_hash}"
