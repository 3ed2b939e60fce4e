"""The signed HTTP function engine end to end: the real ``HttpFunctionClient`` calling
``eightball`` served by ``http_function_app`` on loopback (a container on Knative, OpenFaaS,
Cloud Run), and packaged with ``--target lambda-url`` behind the fake Lambda function URL (the
zip run for real). Round trip, manifest, the meter, wrong secrets refused both ways, replays
refused, a throttled call retried."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.lambda_url import FakeFunctionUrl
from tests.support.harness import serving_app
from waddlebot.core.contract import ModuleRequest
from waddlebot.infra.webhook_signing import ID_HEADER, sign_message
from waddlebot.router.remote import ModuleCallError, ModuleSetupError
from waddlebot.sdk.functions import http_function_app
from waddlebot.sdk.loader import load_module
from waddlebot.serverless import Invocation
from waddlebot.serverless.http_function import HttpFunctionClient
from waddlebot.serverless.package import package

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "modules"
SECRET = b"a-secret-for-the-eightball-function"
WRONG = b"not-the-secret-the-function-has"
ANSWER = "The 8-ball says: "
KINDS = ("app", "lambda-url")


@pytest.fixture(scope="module")
def fixtures_path() -> Iterator[None]:
    sys.path.insert(0, str(FIXTURES))
    try:
        yield
    finally:
        sys.path.remove(str(FIXTURES))


@pytest.fixture(scope="module")
def lambda_url_zip(fixtures_path: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package("eightball:module", "lambda-url", tmp_path_factory.mktemp("fn")).path


@pytest.fixture
async def fake_url(lambda_url_zip: Path) -> AsyncIterator[FakeFunctionUrl]:
    env = {"WADDLEBOT_MODULE_SECRET": SECRET.decode()}
    async with FakeFunctionUrl(lambda_url_zip, env=env) as fake:
        yield fake


@pytest.fixture(params=KINDS)
async def endpoint(
    request: pytest.FixtureRequest, fixtures_path: None, lambda_url_zip: Path
) -> AsyncIterator[str]:
    """The function's URL, under a path of the platform's own."""
    if request.param == "app":
        app = http_function_app(load_module("eightball:module"), SECRET, store_url="")
        async with serving_app(app) as url:
            yield f"{url}/function/eightball"
    else:
        env = {"WADDLEBOT_MODULE_SECRET": SECRET.decode()}
        async with FakeFunctionUrl(lambda_url_zip, env=env) as fake:
            yield f"{fake.url}/"


def question(text: str = "will it rain?", community_id: int = 7) -> ModuleRequest:
    return ModuleRequest(
        session_id="s1",
        event_id="e1",
        community_id=community_id,
        entity_id="twitch:1337",
        platform="twitch",
        command="eightball",
        prefix="#",
        args=text.split(),
        raw_text=f"#eightball {text}",
    )


async def test_a_call_and_the_manifest_round_trip_and_are_metered(endpoint: str) -> None:
    metered: list[Invocation] = []
    client = HttpFunctionClient(endpoint, SECRET, timeout=10.0, meter=metered.append)
    try:
        manifest = await client.fetch_manifest()
        assert manifest.name == "eightball"
        assert [c.name for c in manifest.commands if c.serverless] == ["eightball"]
        response = await client.call(question())
        (reply,) = response.replies
        assert reply.text.startswith(ANSWER)
        again = await client.call(question("Will it RAIN?"))  # same question, same answer
        assert again.replies[0].text == reply.text
    finally:
        await client.close()
    assert [(m.module, m.community_id, m.engine, m.ok) for m in metered] == [
        ("eightball", 7, "function", True),
        ("eightball", 7, "function", True),
    ]
    assert all(m.billed_ms > 0 for m in metered)


async def test_a_client_with_another_secret_is_refused(endpoint: str) -> None:
    metered: list[Invocation] = []
    client = HttpFunctionClient(endpoint, WRONG, meter=metered.append)
    try:
        with pytest.raises(ModuleSetupError) as setup:
            await client.fetch_manifest()
        assert "invalid signature: signature does not match" in setup.value.reason
        assert "WADDLEBOT_MODULE_SECRET" in setup.value.reason
        with pytest.raises(ModuleCallError) as call:
            await client.call(question())
        assert call.value.reason == "HTTP 401: invalid signature: signature does not match"
    finally:
        await client.close()
    assert [(m.engine, m.ok) for m in metered] == [("function", False)]


async def test_a_replayed_call_is_refused(endpoint: str) -> None:
    body = question().model_dump_json().encode()
    headers = {**sign_message(SECRET, body), "content-type": "application/json"}
    async with httpx2.AsyncClient() as http:
        first = await http.post(endpoint, content=body, headers=headers)
        again = await http.post(endpoint, content=body, headers=headers)
    assert first.status_code == 200
    assert first.headers[ID_HEADER] == headers[ID_HEADER]
    assert again.status_code == 401
    assert orjson.loads(again.content) == {
        "detail": "invalid signature: message was seen before (replay)"
    }


async def test_an_answer_not_signed_for_the_call_is_refused() -> None:
    """A function that answers, but not with the secret (or not for this call): the client
    trusts none of it."""
    answer = orjson.dumps({"replies": [{"text": "trust me"}]})
    manifest = load_module("tests.support.modules:module").manifest

    async def impostor(request: Request) -> Response:
        call_id = request.headers[ID_HEADER]
        mode = request.url.path.strip("/")
        body = (
            manifest.model_dump_json().encode() if b"manifest" in await request.body() else answer
        )
        if mode == "other-secret":
            headers = sign_message(WRONG, body, message_id=call_id)
        else:
            headers = sign_message(SECRET, body)  # signed, but with an id of its own
        return Response(body, headers=headers, media_type="application/json")

    app = Starlette(routes=[Route("/{mode}", impostor, methods=["POST"])])
    async with serving_app(app) as url:
        for mode, reason in [
            ("other-secret", "signature does not match"),
            ("other-call", "the answer is signed for another call"),
        ]:
            client = HttpFunctionClient(f"{url}/{mode}", SECRET)
            try:
                with pytest.raises(ModuleSetupError) as setup:
                    await client.fetch_manifest()
                assert reason in setup.value.reason
                with pytest.raises(ModuleCallError) as call:
                    await client.call(question())
                assert (
                    call.value.reason
                    == f"response failed signature check ({reason}); is the secret right?"
                )
            finally:
                await client.close()


async def test_a_throttled_call_is_retried(fake_url: FakeFunctionUrl) -> None:
    client = HttpFunctionClient(f"{fake_url.url}/", SECRET, timeout=10.0)
    try:
        await client.fetch_manifest()
        fake_url.throttle(2)
        response = await client.call(question())
        assert response.replies[0].text.startswith(ANSWER)
    finally:
        await client.close()
    manifest, throttled, throttled_again, answered = fake_url.requests
    assert (throttled.event, throttled_again.event) == (None, None)
    assert answered.event is not None and manifest.event is not None
    assert answered.event["headers"]["content-type"] == "application/json"
    assert answered.event["requestContext"]["http"]["method"] == "POST"


async def test_the_function_url_event_is_what_aws_sends(fake_url: FakeFunctionUrl) -> None:
    client = HttpFunctionClient(f"{fake_url.url}/", SECRET)
    try:
        await client.call(question())
    finally:
        await client.close()
    (requested,) = fake_url.requests
    assert requested.event is not None
    event = requested.event
    assert (event["version"], event["rawPath"], event["isBase64Encoded"]) == ("2.0", "/", False)
    assert ModuleRequest.model_validate_json(event["body"]).args == ["will", "it", "rain?"]
    assert event["headers"]["webhook-id"].startswith("msg_")
