"""The pieces the serverless invokers share, and Lambda's log tail and error payload readers."""

from __future__ import annotations

import base64

import pytest

from waddlebot.core.contract import ModuleRequest
from waddlebot.router.remote import ModuleCallError
from waddlebot.serverless import MAX_PAYLOAD_BYTES
from waddlebot.serverless.calls import Backoff, module_response, request_payload, short
from waddlebot.serverless.lambda_client import billed_ms, function_error


def test_billed_duration_from_the_log_tail() -> None:
    tail = "START RequestId: r\nEND RequestId: r\nREPORT RequestId: r\tDuration: 3.21 ms\t"
    tail += "Billed Duration: 4 ms\tMemory Size: 128 MB\n"
    assert billed_ms(base64.b64encode(tail.encode()).decode()) == 4
    assert billed_ms(None) == 0
    assert billed_ms(base64.b64encode(b"no report line").decode()) == 0
    assert billed_ms("%%% not base64") == 0


def test_function_errors_are_one_short_line() -> None:
    body = b'{"errorType": "KeyError", "errorMessage": "' + b"x" * 1000 + b'", "stackTrace": []}'
    text = function_error("Unhandled", body)
    assert text.startswith("function error: KeyError: xxx") and len(text) < 250
    assert function_error("Unhandled", b"not json") == "function error: Unhandled"
    assert short("a\n  b\tc") == "a b c"


def test_a_payload_over_the_limit_is_refused() -> None:
    big = ModuleRequest(
        session_id="s",
        community_id=1,
        entity_id="e",
        platform="console",
        raw_text="x" * MAX_PAYLOAD_BYTES,
    )
    with pytest.raises(ModuleCallError, match="not sent"):
        request_payload("m", big, None)


def test_an_answer_that_is_no_module_response() -> None:
    with pytest.raises(ModuleCallError, match="invalid response"):
        module_response("m", b'{"replies": 3}')
    assert module_response("m", b'{"replies": [{"text": "hi"}]}').replies[0].text == "hi"


def test_backoff_grows_up_to_its_cap() -> None:
    backoff = Backoff(base=0.1, cap=0.5)
    assert 0.05 <= backoff.pause(0) <= 0.1
    assert 0.25 <= backoff.pause(10) <= 0.5
