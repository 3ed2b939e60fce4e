"""What serverless calls cost a community, its daily budget, and where a function runs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from waddlebot.core.contract import ModuleRequest, ModuleResponse, Reply
from waddlebot.core.errors import UserError
from waddlebot.core.manifest import Manifest
from waddlebot.infra.memory import MemoryCache
from waddlebot.serverless import Invocation
from waddlebot.serverless.accounting import AccountedClient, Accounting, OverBudget
from waddlebot.serverless.clients import lambda_region, openwhisk_parts, openwhisk_target


class Day:
    def __init__(self) -> None:
        self.today = date(2026, 12, 6)

    def __call__(self) -> date:
        return self.today


def accounting(budgets: dict[int, int], day: Day) -> Accounting:
    async def budget_of(community_id: int) -> int:
        return budgets.get(community_id, 0)

    return Accounting(MemoryCache(), budget_of, today=day)


class Function:
    """A function client that bills 120 ms a call, as an invoker would report it."""

    name = "eightball"
    manifest = Manifest(name="eightball")

    def __init__(self, usage: Accounting, *, ok: bool = True) -> None:
        self.usage, self.ok, self.calls = usage, ok, 0

    async def call(self, request: ModuleRequest) -> ModuleResponse:
        self.calls += 1
        self.usage.meter(Invocation(self.name, request.community_id, "lambda", 120.4, self.ok))
        if not self.ok:
            raise RuntimeError("function error")
        return ModuleResponse(replies=[Reply(text="It is certain.")])

    async def close(self) -> None:
        pass


def request(community_id: int) -> ModuleRequest:
    return ModuleRequest(
        session_id="s", community_id=community_id, entity_id="e", platform="twitch"
    )


async def test_calls_within_the_budget_run_and_the_next_is_refused_without_a_call() -> None:
    day = Day()
    usage = accounting({1: 2}, day)
    function = Function(usage)
    client = AccountedClient(function, usage)
    for _ in range(2):
        assert (await client.call(request(1))).replies[0].text == "It is certain."
    with pytest.raises(OverBudget) as refused:
        await client.call(request(1))
    assert function.calls == 2
    assert "midnight UTC" in refused.value.reply("#8ball")
    (today,) = await usage.usage(1, days=1)
    assert (today.invocations, today.billed_ms, today.refused) == (2, 240, 1)


async def test_the_budget_starts_again_the_next_day_and_other_communities_are_apart() -> None:
    day = Day()
    usage = accounting({1: 1}, day)
    client = AccountedClient(Function(usage), usage)
    await client.call(request(1))
    with pytest.raises(OverBudget):
        await client.call(request(1))
    await client.call(request(2))  # no budget of its own: no limit
    await client.call(request(2))
    day.today += timedelta(days=1)
    await client.call(request(1))
    today, yesterday = await usage.usage(1, days=2)
    assert (today.day, today.invocations) == (day.today, 1)
    assert (yesterday.invocations, yesterday.refused) == (1, 1)
    assert (await usage.usage(2, days=2))[1].invocations == 2


async def test_a_failed_invocation_is_counted_as_an_error_and_still_billed() -> None:
    usage = accounting({}, Day())
    client = AccountedClient(Function(usage, ok=False), usage)
    with pytest.raises(RuntimeError):
        await client.call(request(3))
    (today,) = await usage.usage(3, days=1)
    assert (today.invocations, today.errors, today.billed_ms) == (1, 1, 120)


def test_a_lambda_target_is_an_arn_with_its_region_or_a_name_in_the_default_one() -> None:
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:eightball:live"
    assert lambda_region(arn, "us-east-1") == "eu-west-1"
    assert lambda_region("eightball", "us-east-1") == "us-east-1"
    with pytest.raises(ValueError, match="ARN"):
        lambda_region("arn:aws:s3:::bucket", "us-east-1")


def test_an_openwhisk_action_becomes_its_rest_url_and_back() -> None:
    url = openwhisk_target("https://ow.example:8443", "guest/games/eightball")
    assert url == "https://ow.example:8443/api/v1/namespaces/guest/actions/games/eightball"
    assert openwhisk_parts(url) == ("https://ow.example:8443", "guest", "games/eightball")
    with pytest.raises(UserError, match="NAMESPACE"):
        openwhisk_target("https://ow.example", "eightball")
    with pytest.raises(UserError, match="API host"):
        openwhisk_target("ow.example", "guest/eightball")
