"""A module as a signed HTTP function behind a Lambda function URL or an OpenWhisk raw web
action (``waddlebot.sdk.functions``): real signed requests in, signed answers out, refusals
for a bad signature, a replay, another method and an event that is no HTTP request."""

from __future__ import annotations

import base64
import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest

from waddlebot.core.contract import ModuleRequest, ModuleResponse
from waddlebot.infra.signing import SignatureError
from waddlebot.infra.webhook_signing import ID_HEADER, sign_message, verify_message
from waddlebot.sdk.functions import lambda_url_handler, openwhisk_web_main
from waddlebot.serverless import MANIFEST_REQUEST

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "modules"
SECRET = b"a-secret-for-the-eightball-function"


@pytest.fixture
def eightball(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(FIXTURES))
    monkeypatch.delenv("WADDLEBOT_MODULE_SECRET", raising=False)
    yield importlib.import_module("eightball")


def call_body(text: str = "will it rain?") -> bytes:
    return (
        ModuleRequest(
            session_id="s1",
            event_id="e1",
            community_id=7,
            entity_id="twitch:1337",
            platform="twitch",
            command="eightball",
            prefix="#",
            args=text.split(),
            raw_text=f"#eightball {text}",
        )
        .model_dump_json()
        .encode()
    )


def url_event(body: bytes, headers: dict[str, str], method: str = "POST") -> dict[str, Any]:
    """A Lambda function URL request as AWS hands it over (payload format 2.0)."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", **headers},
        "requestContext": {"http": {"method": method, "path": "/"}},
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def web_args(body: bytes, headers: dict[str, str], method: str = "post") -> dict[str, Any]:
    """An OpenWhisk raw web action's arguments: a JSON body comes base64."""
    return {
        "__ow_method": method,
        "__ow_headers": {"content-type": "application/json", **headers},
        "__ow_path": "",
        "__ow_query": "",
        "__ow_body": base64.b64encode(body).decode(),
    }


def checked(result: dict[str, Any], body: bytes, answering: str | None) -> Any:
    """The answer's JSON, once its signature is checked (with the call's id)."""
    verify_message(SECRET, body, result["headers"], answering=answering)
    return orjson.loads(body)


def test_a_function_url_call_is_answered_signed(eightball: ModuleType) -> None:
    handler = lambda_url_handler(eightball.module, SECRET)
    body = call_body()
    signature = sign_message(SECRET, body)
    result = handler(url_event(body, signature), None)
    assert result["statusCode"] == 200
    assert result["isBase64Encoded"] is False
    answer = checked(result, result["body"].encode(), signature[ID_HEADER])
    expected = eightball.answers.pick("will it rain?", eightball.answers.CLASSIC)
    replies = ModuleResponse.model_validate(answer).replies
    assert [reply.text for reply in replies] == [f"The 8-ball says: {expected}"]


def test_a_function_url_answers_the_manifest_request(eightball: ModuleType) -> None:
    handler = lambda_url_handler(eightball.module, SECRET)
    body = orjson.dumps(MANIFEST_REQUEST)
    signature = sign_message(SECRET, body)
    result = handler(url_event(body, signature), None)
    assert result["statusCode"] == 200
    manifest = checked(result, result["body"].encode(), signature[ID_HEADER])
    assert manifest == eightball.module.manifest.model_dump(mode="json")


def test_a_function_url_refuses_another_secret_and_a_replay(eightball: ModuleType) -> None:
    handler = lambda_url_handler(eightball.module, SECRET)
    body = call_body()
    wrong = handler(url_event(body, sign_message(b"another-secret-altogether", body)), None)
    assert wrong["statusCode"] == 401
    detail = checked(wrong, wrong["body"].encode(), None)["detail"]
    assert detail == "invalid signature: signature does not match"
    signature = sign_message(SECRET, body)
    assert handler(url_event(body, signature), None)["statusCode"] == 200
    again = handler(url_event(body, signature), None)
    assert again["statusCode"] == 401
    assert "replay" in orjson.loads(again["body"])["detail"]
    # a body changed under a good signature is refused too
    tampered = handler(url_event(call_body("other"), sign_message(SECRET, body)), None)
    assert tampered["statusCode"] == 401


def test_a_function_url_refuses_what_is_no_signed_post(eightball: ModuleType) -> None:
    handler = lambda_url_handler(eightball.module, SECRET)
    got = handler(url_event(b"", {}, method="GET"), None)
    assert (got["statusCode"], got["headers"]["allow"]) == (405, "POST")
    direct = handler(orjson.loads(call_body()), None)  # invoked directly, not through the URL
    assert direct["statusCode"] == 400
    assert "function URL" in checked(direct, direct["body"].encode(), None)["detail"]
    event = url_event(b"", sign_message(SECRET, b"x")) | {"body": "%%%", "isBase64Encoded": True}
    assert handler(event, None)["statusCode"] == 400
    body = b'{"command": 3}'
    unreadable = handler(url_event(body, sign_message(SECRET, body)), None)
    assert unreadable["statusCode"] == 422


def test_a_failing_handler_is_a_signed_500(eightball: ModuleType) -> None:
    handler = lambda_url_handler(eightball.module, SECRET)
    body = call_body().replace(b'"eightball"', b'"no-such-command"', 1)
    signature = sign_message(SECRET, body)
    result = handler(url_event(body, signature), None)
    assert result["statusCode"] == 500
    assert checked(result, result["body"].encode(), signature[ID_HEADER]) == {
        "detail": "module error"
    }


def test_the_secret_is_read_from_the_environment_when_called(
    eightball: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = lambda_url_handler(eightball.module)  # as the packaged entry makes it
    body = call_body()
    missing = handler(url_event(body, sign_message(SECRET, body)), None)
    assert missing["statusCode"] == 500
    assert orjson.loads(missing["body"]) == {
        "detail": "WADDLEBOT_MODULE_SECRET is not set in the function's environment"
    }
    monkeypatch.setenv("WADDLEBOT_MODULE_SECRET", SECRET.decode())
    assert handler(url_event(body, sign_message(SECRET, body)), None)["statusCode"] == 200


def test_a_raw_web_action_call_is_answered_signed(eightball: ModuleType) -> None:
    main = openwhisk_web_main(eightball.module, SECRET)
    body = call_body()
    signature = sign_message(SECRET, body)
    result = main(web_args(body, signature))
    assert result["statusCode"] == 200
    answer = checked(result, base64.b64decode(result["body"]), signature[ID_HEADER])
    assert ModuleResponse.model_validate(answer).replies[0].text.startswith("The 8-ball says: ")
    replayed = main(web_args(body, signature))
    assert replayed["statusCode"] == 401


def test_a_web_action_takes_its_secret_from_a_bound_parameter(eightball: ModuleType) -> None:
    main = openwhisk_web_main(eightball.module)
    body = orjson.dumps(MANIFEST_REQUEST)
    signature = sign_message(SECRET, body)
    result = main(web_args(body, signature) | {"WADDLEBOT_MODULE_SECRET": SECRET.decode()})
    assert result["statusCode"] == 200
    manifest = checked(result, base64.b64decode(result["body"]), signature[ID_HEADER])
    assert manifest["name"] == "eightball"
    with pytest.raises(SignatureError):  # signed with the bound secret, not another
        verify_message(
            b"another-secret-altogether", base64.b64decode(result["body"]), result["headers"]
        )


def test_a_web_action_that_is_not_raw_is_told_so(eightball: ModuleType) -> None:
    main = openwhisk_web_main(eightball.module, SECRET)
    body = call_body()
    parsed = {
        k: v for k, v in web_args(body, sign_message(SECRET, body)).items() if k != "__ow_body"
    }
    result = main(parsed | orjson.loads(body))  # a plain web action spreads the JSON body
    assert result["statusCode"] == 400
    detail = checked(result, base64.b64decode(result["body"]), None)["detail"]
    assert "--web raw" in detail
    got = main(web_args(b"", {}, method="get"))
    assert got["statusCode"] == 405
