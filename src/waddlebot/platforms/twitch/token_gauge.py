"""``waddlebot_twitch_tokens``: the Twitch tokens WaddleBot holds, by purpose and state, so an
alert can say that one stopped working. The leading collector counts them (when it validates
them, and at each stream poll) and forgets them when it stops leading: one process of a
deployment reports them, and none reports a count it no longer keeps up to date."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from waddlebot.infra.metrics import TWITCH_TOKENS
from waddlebot.platforms.twitch.tokens import SCOPES, TokenStatus

STATES = ("ok", "invalid", "missing_scopes")


def state_of(token: TokenStatus) -> str:
    if token.status != "ok":
        return "invalid"
    return "missing_scopes" if token.missing_scopes else "ok"


def count(tokens: Iterable[TokenStatus]) -> None:
    """Every purpose and state gets a series, 0 included, so a state that empties reads 0."""
    counts = Counter((token.purpose, state_of(token)) for token in tokens)
    for purpose in SCOPES:
        for state in STATES:
            TWITCH_TOKENS.labels(purpose, state).set(counts[purpose, state])


def forget() -> None:
    TWITCH_TOKENS.clear()
