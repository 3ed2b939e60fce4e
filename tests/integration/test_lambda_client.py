"""LambdaModuleClient (real aiobotocore, signing and all) against the fake Lambda Invoke API,
which runs the function zips in warm worker processes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.lambda_api import FakeLambda
from tests.support.function_zips import MODULE_NAME, lambda_zip
from waddlebot.core.contract import ModuleRequest, StoreGrant
from waddlebot.router.remote import ModuleCallError
from waddlebot.serverless import MANIFEST_REQUEST, MAX_PAYLOAD_BYTES, Invocation
from waddlebot.serverless.calls import Backoff
from waddlebot.serverless.lambda_client import LambdaModuleClient

REGION = "eu-west-1"
KEYS = {"access_key_id": "AKIAFAKEFAKEFAKE1234", "secret_access_key": "fake-secret"}


def request(*args: str, community_id: int = 7) -> ModuleRequest:
    return ModuleRequest(
        session_id="s1",
        community_id=community_id,
        entity_id="chan",
        platform="twitch",
        command="echo",
        prefix="#",
        args=list(args),
    )


@pytest.fixture
async def aws(tmp_path: Path) -> AsyncIterator[FakeLambda]:
    archive = lambda_zip(tmp_path)
    async with FakeLambda(region=REGION) as fake:
        fake.add_function("echo", archive)
        fake.add_function("broken", archive, "waddlebot_handler.broken")
        fake.add_function("sleepy", archive, "waddlebot_handler.sleepy", timeout=1.0)
        fake.add_function("invalid", archive, "waddlebot_handler.invalid")
        yield fake


def client(aws: FakeLambda, function: str = "echo", **options: Any) -> LambdaModuleClient:
    settings: dict[str, Any] = {
        "region": REGION,
        "endpoint_url": aws.url,
        "timeout": 10.0,
        **KEYS,
        **options,
    }
    return LambdaModuleClient(function, **settings)


async def test_connect_fetches_the_manifest_and_a_call_round_trips(aws: FakeLambda) -> None:
    billed: list[Invocation] = []
    echo = await LambdaModuleClient.connect(
        "echo",
        expected_name=MODULE_NAME,
        region=REGION,
        endpoint_url=aws.url,
        meter=billed.append,
        **KEYS,
    )
    try:
        assert echo.name == MODULE_NAME
        assert echo.manifest.commands[0].serverless
        response = await echo.call(request("hello", "there"))
        assert [reply.text for reply in response.replies] == ["echo: hello there"]
    finally:
        await echo.close()
    manifest_call, echo_call = aws.calls("echo")
    assert manifest_call.event == MANIFEST_REQUEST
    assert echo_call.event["args"] == ["hello", "there"]
    assert echo_call.headers["x-amz-invocation-type"] == "RequestResponse"
    assert echo_call.headers["x-amz-log-type"] == "Tail"
    assert echo_call.headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={KEYS['access_key_id']}/"
    )
    (invocation,) = billed  # the manifest fetch is not metered
    assert invocation.module == MODULE_NAME
    assert invocation.community_id == 7
    assert invocation.engine == "lambda"
    assert invocation.ok
    assert f"handling {echo_call.request_id} echo\n" in echo_call.log_tail  # print() is logged
    report = re.search(r"Billed Duration: (\d+) ms", echo_call.log_tail)
    assert report is not None and invocation.billed_ms == int(report.group(1)) >= 1


async def test_a_full_arn_and_the_store_grant_reach_the_function(aws: FakeLambda) -> None:
    grant = StoreGrant(url="http://bot/api/v1/module-store", token="t0ken")
    echo = client(aws, aws.arn("echo"), region=None, store_grants=lambda name, req: grant)
    try:
        await echo.fetch_manifest()
        await echo.call(request("x"))
    finally:
        await echo.close()
    assert aws.calls("echo")[-1].event["store"] == grant.model_dump()


async def test_a_function_error_is_a_short_module_call_error(aws: FakeLambda) -> None:
    billed: list[Invocation] = []
    broken = client(aws, "broken", meter=billed.append)
    try:
        with pytest.raises(ModuleCallError) as caught:
            await broken.call(request())
    finally:
        await broken.close()
    reason = caught.value.reason
    assert reason.startswith("function error: ValueError: the dice said no details")
    assert len(reason) < 300
    assert "Traceback" not in reason and "File " not in reason
    (invocation,) = billed
    assert not invocation.ok and invocation.billed_ms >= 1


async def test_an_invalid_result_is_refused(aws: FakeLambda) -> None:
    invalid = client(aws, "invalid")
    try:
        with pytest.raises(ModuleCallError, match="invalid response"):
            await invalid.call(request())
    finally:
        await invalid.close()


async def test_throttled_twice_then_answered(aws: FakeLambda) -> None:
    aws.throttle("echo", times=2)
    billed: list[Invocation] = []
    echo = client(aws, meter=billed.append, backoff=Backoff(base=0.01))
    try:
        response = await echo.call(request("again"))
    finally:
        await echo.close()
    assert response.replies[0].text == "echo: again"
    assert [call.status for call in aws.calls("echo")] == [429, 429, 200]
    assert len(billed) == 1 and billed[0].ok


async def test_throttled_past_the_deadline_gives_up(aws: FakeLambda) -> None:
    aws.throttle("echo", times=10_000)
    billed: list[Invocation] = []
    echo = client(aws, timeout=0.5, meter=billed.append, backoff=Backoff(base=0.02, cap=0.1))
    try:
        with pytest.raises((ModuleCallError, TimeoutError), match=r"throttled|did not answer"):
            await echo.call(request())
    finally:
        await echo.close()
    statuses = {call.status for call in aws.calls("echo")}
    assert statuses == {429}  # botocore retried nothing on its own: every try is ours
    assert len(billed) == 1 and not billed[0].ok


async def test_a_call_past_the_deadline_is_a_timeout(aws: FakeLambda) -> None:
    sleepy = client(aws, "sleepy", timeout=0.3)
    try:
        with pytest.raises(TimeoutError, match=r"did not answer within 0.3s"):
            await sleepy.call(request("0.9"))
    finally:
        await sleepy.close()


async def test_the_function_timeout_is_a_function_error(aws: FakeLambda) -> None:
    sleepy = client(aws, "sleepy")
    try:
        with pytest.raises(ModuleCallError, match=r"Sandbox.Timedout: .*1.00 seconds"):
            await sleepy.call(request("5"))
    finally:
        await sleepy.close()


async def test_a_payload_too_big_is_refused_without_a_call(aws: FakeLambda) -> None:
    echo = client(aws)
    try:
        with pytest.raises(ModuleCallError, match="over the 6291456-byte limit"):
            await echo.call(request("x" * MAX_PAYLOAD_BYTES))
    finally:
        await echo.close()
    assert aws.invocations == []


async def test_a_signature_for_another_region_is_refused(aws: FakeLambda) -> None:
    elsewhere = client(aws, region="us-west-2")
    try:
        with pytest.raises(ModuleCallError, match=r"InvalidSignatureException.*HTTP 403"):
            await elsewhere.call(request())
    finally:
        await elsewhere.close()
    (refused,) = aws.invocations
    assert refused.status == 403


async def test_an_unknown_function_names_the_error(aws: FakeLambda) -> None:
    nowhere = client(aws, "nowhere")
    try:
        with pytest.raises(ModuleCallError, match=r"ResourceNotFoundException.*HTTP 404"):
            await nowhere.fetch_manifest()
    finally:
        await nowhere.close()


async def test_a_service_failure_names_the_error(aws: FakeLambda) -> None:
    aws.fail("echo")
    echo = client(aws)
    try:
        with pytest.raises(ModuleCallError, match="ServiceException"):
            await echo.call(request())
        assert (await echo.call(request("ok"))).replies[0].text == "echo: ok"
    finally:
        await echo.close()


async def test_credentials_from_the_environment(
    aws: FakeLambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENV000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    echo = LambdaModuleClient("echo", region=REGION, endpoint_url=aws.url)
    try:
        await echo.fetch_manifest()
    finally:
        await echo.close()
    assert "Credential=AKIAFROMTHEENV000000/" in aws.invocations[0].headers["authorization"]


async def test_concurrent_calls_share_one_client_and_scale_out(aws: FakeLambda) -> None:
    sleepy = client(aws, "sleepy")
    try:
        responses = await asyncio.gather(*(sleepy.call(request("0.2", str(n))) for n in range(3)))
    finally:
        await sleepy.close()
    assert sorted(r.replies[0].text for r in responses) == [f"echo: 0.2 {n}" for n in range(3)]
    assert 1 <= aws.functions["sleepy"].runner.cold_starts <= 3


async def test_a_zip_that_cannot_be_imported_is_an_init_error(
    aws: FakeLambda, tmp_path: Path
) -> None:
    aws.add_function("misnamed", lambda_zip(tmp_path), "no_such_module.handler")
    misnamed = client(aws, "misnamed")
    try:
        with pytest.raises(
            ModuleCallError,
            match=r"Runtime.ImportModuleError: Unable to import module 'no_such_module'",
        ):
            await misnamed.call(request())
    finally:
        await misnamed.close()
