"""``FakeOllama``: Ollama's HTTP API as the official ``ollama`` client uses it, on a loopback
port: ``POST /api/chat`` (streamed as NDJSON, the default, or whole with ``"stream": false``),
``GET /api/tags`` (the models pulled) and ``GET /api/version``.

async with FakeOllama(models=("llama3.2",)) as fake:
    fake.script.rules["alice: hi"] = "Hello!"
    client = ollama.AsyncClient(host=fake.url)

Answers come from a :class:`~tests.fakes.model_script.ModelScript`, tool calls too (as Ollama
sends them: ``message.tool_calls: [{"function": {"name", "arguments": {...}}}]``, no id,
content empty); errors are answered as
Ollama answers them, ``{"error": "..."}`` with the status (404 for a model not pulled, 400 for
a request it cannot read)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.model_script import ModelScript
from tests.fakes.served import ServedFake

VERSION = "0.12.6"
_DIGEST = "sha256:" + "a8b0c5157701" * 5 + "abcd"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _full_name(model: str) -> str:
    return model if ":" in model else f"{model}:latest"


def _words(text: str) -> list[str]:
    """The answer in pieces as a model streams them: each word with the space before it."""
    pieces = text.split(" ")
    return [pieces[0], *(f" {piece}" for piece in pieces[1:])]


class FakeOllama(ServedFake):
    def __init__(self, models: tuple[str, ...] = ("llama3.2",)) -> None:
        self.models = {_full_name(model) for model in models}
        self.script = ModelScript()
        self.url = ""

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/chat", self._chat, methods=["POST"]),
                Route("/api/tags", self._tags, methods=["GET"]),
                Route("/api/version", self._version, methods=["GET"]),
            ]
        )

    async def _version(self, request: Request) -> Response:
        return JSONResponse({"version": VERSION})

    async def _tags(self, request: Request) -> Response:
        return JSONResponse(
            {
                "models": [
                    {
                        "name": name,
                        "model": name,
                        "modified_at": "2025-01-01T00:00:00Z",
                        "size": 2019393189,
                        "digest": _DIGEST,
                        "details": {
                            "parent_model": "",
                            "format": "gguf",
                            "family": "llama",
                            "families": ["llama"],
                            "parameter_size": "3.2B",
                            "quantization_level": "Q4_K_M",
                        },
                    }
                    for name in sorted(self.models)
                ]
            }
        )

    async def _chat(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError as exc:
            return _error(400, f"invalid character in request body: {exc}")
        if not isinstance(body, dict):
            return _error(400, "json: cannot unmarshal into Go value of type api.ChatRequest")
        self.script.chats.append(body)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return _error(400, "model is required")
        messages = body.get("messages") or []
        if not isinstance(messages, list) or not all(
            isinstance(m, dict) and m.get("role") in ("system", "user", "assistant", "tool")
            for m in messages
        ):
            return _error(400, "invalid message role: system, user, assistant or tool")
        if self.script.delay:
            await asyncio.sleep(self.script.delay)
        failure = self.script.next_failure()
        if failure is not None:
            return _error(failure.status, failure.message or "fake failure")
        if _full_name(model) not in self.models:
            return _error(404, f'model "{model}" not found, try pulling it first')
        step = self.script.tool_call(messages, offered=bool(body.get("tools")))
        if step is not None:
            name, arguments = step
            calls = [{"function": {"name": name, "arguments": arguments}}]
            if body.get("stream", True) is False:
                return JSONResponse(self._final(model, "", calls))
            return StreamingResponse(
                self._stream_calls(model, calls), media_type="application/x-ndjson"
            )
        answer = self.script.answer(messages)
        if body.get("stream", True) is False:
            return JSONResponse(self._final(model, answer))
        return StreamingResponse(self._stream(model, answer), media_type="application/x-ndjson")

    def _final(
        self, model: str, content: str, tool_calls: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return {
            "model": model,
            "created_at": _now(),
            "message": message,
            "done_reason": "stop",
            "done": True,
            "total_duration": 4_883_583_458,
            "load_duration": 1_334_875,
            "prompt_eval_count": 26,
            "prompt_eval_duration": 342_546_000,
            "eval_count": len(content.split()),
            "eval_duration": 4_535_599_000,
        }

    async def _stream(self, model: str, answer: str) -> AsyncIterator[bytes]:
        for piece in _words(answer):
            chunk = {
                "model": model,
                "created_at": _now(),
                "message": {"role": "assistant", "content": piece},
                "done": False,
            }
            yield json.dumps(chunk).encode() + b"\n"
        yield json.dumps(self._final(model, "")).encode() + b"\n"

    async def _stream_calls(self, model: str, calls: list[dict[str, Any]]) -> AsyncIterator[bytes]:
        # Ollama sends a model's tool calls whole, in one chunk before the last
        chunk = {
            "model": model,
            "created_at": _now(),
            "message": {"role": "assistant", "content": "", "tool_calls": calls},
            "done": False,
        }
        yield json.dumps(chunk).encode() + b"\n"
        yield json.dumps(self._final(model, "")).encode() + b"\n"
