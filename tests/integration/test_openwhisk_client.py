"""OpenWhiskModuleClient (real httpx2 over loopback) against the fake OpenWhisk REST API, which
runs the action zips in warm worker processes."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.fakes.openwhisk_api import FakeOpenWhisk
from tests.support.function_zips import MODULE_NAME, openwhisk_zip
from tests.support.harness import serving_app
from tests.support.tls import self_signed
from waddlebot.core.contract import ModuleRequest
from waddlebot.core.errors import ConfigurationError
from waddlebot.router.remote import ModuleCallError
from waddlebot.serverless import MANIFEST_REQUEST, MAX_PAYLOAD_BYTES, Invocation
from waddlebot.serverless.calls import Backoff
from waddlebot.serverless.openwhisk_client import OpenWhiskModuleClient, action_path


def request(*args: str, community_id: int = 9) -> ModuleRequest:
    return ModuleRequest(
        session_id="s1",
        community_id=community_id,
        entity_id="chan",
        platform="discord",
        command="echo",
        prefix="#",
        args=list(args),
    )


@pytest.fixture
async def whisk(tmp_path: Path) -> AsyncIterator[FakeOpenWhisk]:
    archive = openwhisk_zip(tmp_path)
    async with FakeOpenWhisk(namespace="waddlers") as fake:
        fake.add_action("waddle/echo", archive)
        fake.add_action("echo", archive)
        fake.add_action("broken", archive, main="broken")
        fake.add_action("sleepy", archive, main="sleepy", timeout=1.0)
        fake.add_action("not-a-dict", archive, main="not_a_dict")
        yield fake


def client(
    whisk: FakeOpenWhisk, action: str = "waddle/echo", **options: Any
) -> OpenWhiskModuleClient:
    api_key = options.pop("api_key", whisk.api_key)
    return OpenWhiskModuleClient(
        whisk.url, options.pop("namespace", "_"), action, api_key, **options
    )


def test_action_names() -> None:
    assert action_path("echo") == ("_", "echo")
    assert action_path("pkg/echo", "ns") == ("ns", "pkg/echo")
    assert action_path("ns/pkg/echo") == ("ns", "pkg/echo")
    assert action_path("/ns/echo") == ("ns", "echo")
    assert action_path("/ns/pkg/echo") == ("ns", "pkg/echo")
    for bad in ("", "a//b", "/ns", "a/b/c/d", "/a/b/c/d"):
        with pytest.raises(ConfigurationError):
            action_path(bad)


async def test_connect_fetches_the_manifest_and_a_call_round_trips(whisk: FakeOpenWhisk) -> None:
    billed: list[Invocation] = []
    echo = await OpenWhiskModuleClient.connect(
        whisk.url,
        "waddlers",
        "waddle/echo",
        whisk.api_key,
        expected_name=MODULE_NAME,
        meter=billed.append,
    )
    try:
        assert echo.name == MODULE_NAME
        assert echo.action == "/waddlers/waddle/echo"
        response = await echo.call(request("quack"))
        assert [reply.text for reply in response.replies] == ["echo: quack"]
    finally:
        await echo.close()
    manifest_call, echo_call = whisk.calls("waddle/echo")
    assert manifest_call.args == MANIFEST_REQUEST
    assert echo_call.args["args"] == ["quack"]
    assert echo_call.query["blocking"] == "true" and "result" not in echo_call.query
    user, _, key = whisk.api_key.partition(":")
    assert (
        echo_call.headers["authorization"]
        == "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()
    )
    (invocation,) = billed
    assert (invocation.module, invocation.community_id, invocation.engine) == (
        MODULE_NAME,
        9,
        "openwhisk",
    )
    assert invocation.ok
    record = whisk.activations[echo_call.activation_id]
    assert invocation.billed_ms == record["duration"] >= 1


async def test_a_fully_qualified_name_in_the_namespace(whisk: FakeOpenWhisk) -> None:
    echo = client(whisk, "/waddlers/echo")
    try:
        await echo.fetch_manifest()
    finally:
        await echo.close()
    assert len(whisk.calls("echo")) == 1


async def test_an_action_that_raises_is_a_short_module_call_error(whisk: FakeOpenWhisk) -> None:
    billed: list[Invocation] = []
    broken = client(whisk, "broken", meter=billed.append)
    try:
        with pytest.raises(ModuleCallError) as caught:
            await broken.call(request())
    finally:
        await broken.close()
    reason = caught.value.reason
    assert "application error: the dice said no details" in reason
    assert len(reason) < 300 and "Traceback" not in reason
    assert whisk.calls("broken")[0].status == 502  # a failed blocking activation
    assert len(billed) == 1 and not billed[0].ok and billed[0].billed_ms >= 1


async def test_a_result_that_is_no_dict_is_the_developers_error(whisk: FakeOpenWhisk) -> None:
    odd = client(whisk, "not-a-dict")
    try:
        with pytest.raises(ModuleCallError, match="action developer error: The action did not"):
            await odd.call(request())
    finally:
        await odd.close()


async def test_a_failure_switch_answers_the_error(whisk: FakeOpenWhisk) -> None:
    whisk.fail("waddle/echo", error="database on fire")
    echo = client(whisk)
    try:
        with pytest.raises(ModuleCallError, match="application error: database on fire"):
            await echo.call(request())
        assert (await echo.call(request("ok"))).replies[0].text == "echo: ok"
    finally:
        await echo.close()


async def test_a_slow_action_answers_202_and_is_polled(whisk: FakeOpenWhisk) -> None:
    whisk.blocking_wait = 0.05
    whisk.delay("waddle/echo", 0.3)  # longer than the blocking wait, however fast the machine
    billed: list[Invocation] = []
    echo = client(whisk, meter=billed.append)
    try:
        response = await echo.call(request("patience"))
    finally:
        await echo.close()
    assert response.replies[0].text == "echo: patience"
    (invoked,) = whisk.calls("waddle/echo")
    assert invoked.status == 202
    assert billed[0].billed_ms == whisk.activations[invoked.activation_id]["duration"]


async def test_throttled_twice_then_answered(whisk: FakeOpenWhisk) -> None:
    whisk.throttle("waddle/echo", times=2)
    echo = client(whisk, backoff=Backoff(base=0.01))
    try:
        assert (await echo.call(request("x"))).replies[0].text == "echo: x"
    finally:
        await echo.close()
    assert [call.status for call in whisk.calls("waddle/echo")] == [429, 429, 200]


async def test_throttled_past_the_deadline_gives_up(whisk: FakeOpenWhisk) -> None:
    whisk.throttle("waddle/echo", times=10_000)
    echo = client(whisk, timeout=0.5, backoff=Backoff(base=0.02, cap=0.1))
    try:
        with pytest.raises((ModuleCallError, TimeoutError), match=r"throttled|did not answer"):
            await echo.call(request())
    finally:
        await echo.close()
    assert {call.status for call in whisk.calls("waddle/echo")} == {429}


async def test_a_call_past_the_deadline_is_a_timeout(whisk: FakeOpenWhisk) -> None:
    whisk.blocking_wait = 0.05
    sleepy = client(whisk, "sleepy", timeout=0.4)
    try:
        with pytest.raises(TimeoutError, match=r"did not answer within 0\.4s \(activation \w+"):
            await sleepy.call(request("0.9"))
    finally:
        await sleepy.close()


async def test_the_action_time_limit_is_the_developers_error(whisk: FakeOpenWhisk) -> None:
    sleepy = client(whisk, "sleepy")
    try:
        with pytest.raises(ModuleCallError, match="exceeded its time limits of 1000 milliseconds"):
            await sleepy.call(request("5"))
    finally:
        await sleepy.close()


async def test_a_payload_too_big_is_refused_without_a_call(whisk: FakeOpenWhisk) -> None:
    echo = client(whisk)
    try:
        with pytest.raises(ModuleCallError, match="over the 6291456-byte limit"):
            await echo.call(request("x" * MAX_PAYLOAD_BYTES))
    finally:
        await echo.close()
    assert whisk.invocations == []


async def test_a_wrong_api_key_is_refused(whisk: FakeOpenWhisk) -> None:
    user, _, _ = whisk.api_key.partition(":")
    wrong = client(whisk, api_key=f"{user}:not-the-key")
    try:
        with pytest.raises(ModuleCallError, match="refused the API key"):
            await wrong.fetch_manifest()
    finally:
        await wrong.close()
    assert [call.status for call in whisk.invocations] == [401]


async def test_another_namespace_and_an_unknown_action_say_what(whisk: FakeOpenWhisk) -> None:
    elsewhere = client(whisk, "/someone-else/echo")
    nowhere = client(whisk, "waddle/nope")
    try:
        with pytest.raises(ModuleCallError, match="may not use namespace 'someone-else'"):
            await elsewhere.fetch_manifest()
        with pytest.raises(ModuleCallError, match=r"no such OpenWhisk action /_/waddle/nope"):
            await nowhere.fetch_manifest()
    finally:
        await elsewhere.close()
        await nowhere.close()


async def test_the_fake_answers_result_only_and_non_blocking(whisk: FakeOpenWhisk) -> None:
    auth = tuple(whisk.api_key.split(":", 1))
    base = f"{whisk.url}/api/v1/namespaces/_/actions/waddle/echo"
    async with httpx2.AsyncClient(auth=auth) as http:
        result = await http.post(f"{base}?blocking=true&result=true", json={"args": ["r"]})
        assert result.status_code == 200
        assert result.json() == {"contract_version": 1, "replies": [{"text": "echo: r"}]}
        started = await http.post(base, json={"args": ["later"]})
        assert started.status_code == 202
        await whisk.settle()
        record = await http.get(
            f"{whisk.url}/api/v1/namespaces/_/activations/{started.json()['activationId']}"
        )
        assert record.json()["response"]["result"]["replies"] == [{"text": "echo: later"}]
        unauthenticated = await http.get(
            f"{whisk.url}/api/v1/namespaces/_/activations/x", auth=None
        )
        assert unauthenticated.status_code == 401


async def test_a_self_signed_api_host_is_refused_unless_allowed(
    whisk: FakeOpenWhisk, tmp_path: Path
) -> None:
    """A private OpenWhisk with its own certificate: refused by default, reached when the
    operator says so (WADDLEBOT_OPENWHISK_INSECURE)."""
    async with serving_app(whisk.app(), tls=self_signed(tmp_path)) as https_url:
        strict = OpenWhiskModuleClient(https_url, "_", "waddle/echo", whisk.api_key)
        try:
            with pytest.raises(ModuleCallError, match=r"(?i)certificate"):
                await strict.fetch_manifest()
        finally:
            await strict.close()
        trusting = OpenWhiskModuleClient(
            https_url, "_", "waddle/echo", whisk.api_key, insecure=True
        )
        try:
            assert (await trusting.fetch_manifest()).name == MODULE_NAME
            response = await trusting.call(request("over", "tls"))
            assert [reply.text for reply in response.replies] == ["echo: over tls"]
        finally:
            await trusting.close()
