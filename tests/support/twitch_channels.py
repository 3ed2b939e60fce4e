"""What the fake Twitch shows of the channels the collectors listen to on the WebSocket
transport: which subscriptions they need are not live on exactly one session."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from tests.fakes.twitch import FakeTwitch
from tests.fakes.twitch.model import Subscription
from waddlebot.platforms.twitch.subscriptions import wanted_for_bot, wanted_for_channel


def not_served_once(fake: FakeTwitch, bot: str, channels: Iterable[str]) -> list[str]:
    """The subscriptions ``channels`` (and the bot's whispers) need that are not live on
    exactly one session, each with how many sessions have it live."""
    wanted = [w for c in channels for w in wanted_for_channel(c, bot)] + wanted_for_bot(bot)
    live = Counter(_key(s) for s in fake.subscriptions(status="enabled"))
    return [
        f"{w.type} {w.condition}: {n}"
        for w in wanted
        if (n := live[(w.type, tuple(sorted(w.condition.items())))]) != 1
    ]


def _key(subscription: Subscription) -> tuple[str, tuple[tuple[str, str], ...]]:
    condition = subscription.condition.items()
    return subscription.type, tuple(sorted((k, v) for k, v in condition if v))
