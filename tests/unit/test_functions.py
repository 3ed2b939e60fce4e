"""A module as a Lambda handler or an OpenWhisk action (``waddlebot.sdk.functions``): the
ModuleRequest in, the ModuleResponse out, the manifest on request, bad payloads refused.

The entry points are synchronous, as the platforms call them, so these tests are too."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from waddlebot.core.contract import ModuleRequest, ModuleResponse
from waddlebot.sdk import Context, Module
from waddlebot.sdk.functions import lambda_handler, openwhisk_main
from waddlebot.serverless import MANIFEST_REQUEST

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "modules"


@pytest.fixture
def eightball(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(FIXTURES))
    yield importlib.import_module("eightball")


def request(command: str, text: str = "", **fields: Any) -> dict[str, Any]:
    """A ModuleRequest as the invoker sends it: JSON."""
    return ModuleRequest(
        session_id="s1",
        event_id="e1",
        community_id=7,
        entity_id="twitch:1337",
        platform="twitch",
        command=command,
        prefix="#",
        args=text.split(),
        raw_text=f"#{command} {text}".strip(),
        **fields,
    ).model_dump(mode="json")


def replies(result: dict[str, Any]) -> list[str]:
    return [reply.text for reply in ModuleResponse.model_validate(result).replies]


def test_a_lambda_handler_answers_the_request(eightball: ModuleType) -> None:
    handler = lambda_handler(eightball.module)
    question = "will it rain tomorrow?"
    expected = eightball.answers.pick(question, eightball.answers.CLASSIC)
    result = handler(request("eightball", question), None)
    assert replies(result) == [f"The 8-ball says: {expected}"]
    assert result["contract_version"] == 1
    # however it is asked, the same question gets the same answer
    again = handler(request("eightball", "Will  it rain TOMORROW"), None)
    assert replies(again) == replies(result)


def test_the_handler_reads_the_community_settings(eightball: ModuleType) -> None:
    handler = lambda_handler(eightball.module)
    answered = handler(request("eightball", "tea?", config={"answers": ["Always tea."]}), None)
    assert replies(answered) == ["The 8-ball says: Always tea."]


def test_a_usage_error_is_answered_as_the_module_server_answers_it(
    eightball: ModuleType,
) -> None:
    result = lambda_handler(eightball.module)(request("eightball"), None)
    assert ModuleResponse.model_validate(result) == ModuleResponse(usage_error="ask it a question")


def counting_module() -> tuple[Module, list[str]]:
    """A module that notes what ran: its start hook and its command."""
    ran: list[str] = []
    module = Module("counting", version="2.1.0")

    @module.on_start
    async def started() -> None:
        ran.append("start")

    @module.command("count", serverless=True)
    async def count(ctx: Context) -> str:
        ran.append("count")
        # the loop of this call: a warm process keeps one, for pooled clients
        return str(id(asyncio.get_running_loop()))

    return module, ran


def test_the_manifest_request_runs_no_handler() -> None:
    module, ran = counting_module()
    for entry in (lambda_handler(module), lambda payload, _: openwhisk_main(module)(payload)):
        manifest = entry(dict(MANIFEST_REQUEST), None)
        assert manifest == module.manifest.model_dump(mode="json")
        assert manifest["version"] == "2.1.0"
        assert manifest["commands"][0]["serverless"] is True
    assert ran == []


def test_a_warm_function_keeps_its_event_loop_and_starts_once() -> None:
    module, ran = counting_module()
    handler = lambda_handler(module)
    first = replies(handler(request("count"), None))
    second = replies(handler(request("count"), None))
    assert first == second, "one event loop for the life of the process"
    assert ran == ["start", "count", "count"]


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (["not", "an", "object"], "must be a JSON object (a ModuleRequest), not list"),
        ("text", "not str"),
        ({"community_id": 1}, "session_id: Field required"),
        ({**request("count"), "community_id": "seven"}, "community_id: Input should be"),
        ({**request("count"), "kind": "telepathy"}, "kind: Input should be"),
    ],
)
def test_a_bad_payload_is_a_value_error_saying_what_is_wrong(payload: Any, named: str) -> None:
    module, ran = counting_module()
    with pytest.raises(ValueError, match="payload") as refused:
        lambda_handler(module)(payload, None)
    assert named in str(refused.value)
    with pytest.raises(ValueError, match="payload"):
        openwhisk_main(module)(payload)
    assert ran == []


def test_a_refused_payload_does_not_repeat_its_values() -> None:
    module, _ = counting_module()
    payload = {**request("count"), "store": {"url": "http://bot", "token": 42}}
    with pytest.raises(ValueError, match=r"store\.token") as refused:
        lambda_handler(module)(payload, None)
    assert "42" not in str(refused.value)


def test_openwhisk_leaves_out_its_own_keys(eightball: ModuleType) -> None:
    main = openwhisk_main(eightball.module)
    payload = {
        **request("eightball", "is this a web action?"),
        "__ow_method": "post",
        "__ow_headers": {"content-type": "application/json"},
        "__ow_path": "",
    }
    answered = replies(main(payload))
    assert len(answered) == 1 and answered[0].startswith("The 8-ball says: ")
    assert replies(main(payload)) == answered, "warm, the same answer"


def test_a_failing_handler_is_logged_and_raised(capsys: pytest.CaptureFixture[str]) -> None:
    module = Module("broken")

    @module.command("boom")
    async def boom(ctx: Context) -> None:
        raise RuntimeError("kaboom")

    secret = {"url": "http://bot.example/api/v1/module-store", "token": "grant-token-secret"}
    with pytest.raises(RuntimeError, match="kaboom"):
        lambda_handler(module)(request("boom", store=secret, config={"k": "v"}), None)
    logged = capsys.readouterr().err
    assert "waddlebot lambda function broken: the command 'boom' failed" in logged
    assert "event_id=e1" in logged and "RuntimeError: kaboom" in logged
    assert "grant-token-secret" not in logged


def test_an_unknown_command_is_an_error(eightball: ModuleType) -> None:
    with pytest.raises(LookupError, match="no command 'nope'"):
        lambda_handler(eightball.module)(request("nope"), None)
