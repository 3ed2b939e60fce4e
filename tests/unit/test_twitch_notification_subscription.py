"""What a Twitch notification's ``subscription`` must be: a notification needs only its type
and version (its event is translated by them), so only those two are checked, and an odd one
is refused naming the field, as a challenge's or a revocation's subscription is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from waddlebot.platforms.twitch.subscriptions import (
    MalformedSubscription,
    described,
    type_and_version,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _subscription() -> dict[str, Any]:
    payload = json.loads((FIXTURES / "twitch" / "channel.chat.message.json").read_text())
    subscription: dict[str, Any] = payload["subscription"]
    return subscription


def test_a_notification_gives_its_type_and_version() -> None:
    assert type_and_version(_subscription()) == ("channel.chat.message", "1")


def test_a_notification_does_not_need_the_rest_of_its_subscription() -> None:
    subscription = {**_subscription(), "id": "x" * 65, "condition": "not an object"}
    with pytest.raises(MalformedSubscription):
        described(subscription)  # what a challenge or revocation must describe
    assert type_and_version(subscription) == ("channel.chat.message", "1")


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"type": "t" * 65}, "subscription.type: String should have at most 64 characters"),
        ({"version": "1\x00"}, "subscription.version: must not contain NUL characters"),
        ({"type": 7}, "subscription.type: Input should be a valid string"),
        ({"version": None}, "subscription.version: Input should be a valid string"),
    ],
)
def test_an_odd_type_or_version_is_refused_naming_it(change: dict[str, Any], refusal: str) -> None:
    with pytest.raises(MalformedSubscription) as refused:
        type_and_version({**_subscription(), **change})
    assert str(refused.value) == refusal


@pytest.mark.parametrize("subscription", [None, [], "channel.chat.message"])
def test_a_subscription_that_is_no_object_is_refused(subscription: Any) -> None:
    with pytest.raises(MalformedSubscription, match=r"^subscription"):
        type_and_version(subscription)
