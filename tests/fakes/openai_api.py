"""``FakeOpenAI``: OpenAI's ``POST /v1/chat/completions`` (not streamed), ``POST
/v1/moderations`` and ``GET /v1/models``, as the official ``openai`` SDK uses them, on a
loopback port.

async with FakeOpenAI(api_key="sk-test") as fake:
    client = openai.AsyncOpenAI(base_url=fake.url, api_key="sk-test")
    fake.script.fail(429, retry_after="20")

Answers come from a :class:`~tests.fakes.model_script.ModelScript`, tool calls too (as OpenAI
sends them: ``message.tool_calls`` with an id each and the arguments as a JSON string, content
null, ``finish_reason: "tool_calls"``); a ``tool`` message must answer a call of the assistant
message before it, as OpenAI checks. Errors are answered in
OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, with ``x-request-id``:
401 for a missing or wrong key, 404 for an unknown model, 429 with ``retry-after`` (and
``retry-after-ms``) when scripted, 500 as its server errors.

Moderation answers in the shape of ``omni-moderation-latest`` (every category with its flag,
score and the input types it applied to: text): nothing is flagged but the texts scripted in
``fake.flags`` (text -> the categories flagged); ``fake.moderation_failures`` (a
:class:`ModelScript`'s ``fail``) scripts errors, and ``fake.moderated`` keeps every body."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.model_script import ModelScript
from tests.fakes.served import ServedFake

_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}
CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_MESSAGES = {
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The engine is currently overloaded, please try again later.",
}


def _error(
    status: int, message: str, *, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    kind, code = _KINDS.get(status, ("api_error", None))
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}},
        status_code=status,
        headers={"x-request-id": f"req_{uuid.uuid4().hex}", **(headers or {})},
    )


class FakeOpenAI(ServedFake):
    path = "/v1"

    def __init__(
        self, api_key: str = "sk-test", models: tuple[str, ...] = ("gpt-4o-mini",)
    ) -> None:
        self.api_key = api_key
        self.models = set(models)
        self.script = ModelScript()
        self.headers: list[dict[str, str]] = []  # of every chat request, as received
        self.flags: dict[str, tuple[str, ...]] = {}  # moderated text -> categories flagged
        self.moderation_failures = ModelScript()  # only its failures are used
        self.moderated: list[dict[str, Any]] = []  # every moderation body received
        self.url = ""  # ends in /v1, as a base_url does

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/moderations", self._moderate, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    def _refused(self, request: Request) -> JSONResponse | None:
        given = request.headers.get("authorization", "")
        if not given.startswith("Bearer "):
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        key = given.removeprefix("Bearer ")
        if key != self.api_key:
            shown = f"{key[:3]}*****{key[-4:]}" if len(key) > 8 else "*****"
            return _error(401, f"Incorrect API key provided: {shown}.")
        return None

    async def _models(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "system"}
                    for model in sorted(self.models)
                ],
            }
        )

    async def _moderate(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = json.loads(await request.body())
        self.moderated.append(body)
        failure = self.moderation_failures.next_failure()
        if failure is not None:
            message = failure.message or _MESSAGES.get(failure.status, "fake failure")
            return _error(failure.status, message)
        given = body.get("input")
        texts = [given] if isinstance(given, str) else given
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return _error(400, "'input' must be a string or an array of strings", param="input")
        model = body.get("model") or "omni-moderation-latest"
        return JSONResponse(
            {
                "id": f"modr-{uuid.uuid4().hex[:24]}",
                "model": model,
                "results": [self._verdict(text) for text in texts],
            },
            headers={"x-request-id": f"req_{uuid.uuid4().hex}"},
        )

    def _verdict(self, text: str) -> dict[str, Any]:
        flagged = set(self.flags.get(text, ()))
        return {
            "flagged": bool(flagged),
            "categories": {name: name in flagged for name in CATEGORIES},
            "category_scores": {name: 0.97 if name in flagged else 0.000_12 for name in CATEGORIES},
            "category_applied_input_types": {name: ["text"] for name in CATEGORIES},
        }

    async def _chat(self, request: Request) -> Response:
        self.headers.append(dict(request.headers))
        refused = self._refused(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return _error(400, "The body of your request must be a JSON object.")
        self.script.chats.append(body)
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str):
            return _error(400, "you must provide a model parameter", param="model")
        if not isinstance(messages, list) or not messages:
            return _error(400, "'messages' must be a non-empty array", param="messages")
        if body.get("stream"):
            return _error(400, "this fake does not stream", param="stream")
        if self.script.delay:
            await asyncio.sleep(self.script.delay)
        failure = self.script.next_failure()
        if failure is not None:
            headers = {}
            if failure.retry_after is not None:
                headers["retry-after"] = failure.retry_after
            message = failure.message or _MESSAGES.get(failure.status, "fake failure")
            return _error(failure.status, message, headers=headers)
        if model not in self.models:
            return _error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                param="model",
            )
        unanswered = _unanswered_tool_message(messages)
        if unanswered is not None:
            return _error(400, unanswered, param="messages")
        step = self.script.tool_call(messages, offered=bool(body.get("tools")))
        said: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if step is not None:
            name, arguments = step
            said["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)},
                }
            ]
            answer, finish = "", "tool_calls"
        else:
            answer, finish = self.script.answer(messages), "stop"
            said["content"] = answer
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        completion_tokens = len(answer.split())
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": said,
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
                "system_fingerprint": None,
            },
            headers={"x-request-id": f"req_{uuid.uuid4().hex}"},
        )


def _unanswered_tool_message(messages: list[Any]) -> str | None:
    """What OpenAI says of a ``tool`` message whose ``tool_call_id`` no call before it has."""
    called: set[str] = set()
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        for call in message.get("tool_calls") or ():
            called.add(str(call.get("id")))
        if message.get("role") == "tool" and message.get("tool_call_id") not in called:
            return (
                f"Invalid parameter: messages with role 'tool' must be a response to a "
                f"preceeding message with 'tool_calls'. (messages.[{index}].role)"
            )
    return None
