"""OpenTelemetry tracing of one chat message (infra/tracing): a command taken by the API or a
Twitch webhook is one trace, received, published, processed, handed to the module, its reply
published and sent, continuing a caller's trace when the request carries a ``traceparent``; a
module that fails, times out or is refused leaves its span in error; with tracing off nothing
is traced and nothing is carried."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx2
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.fakes.twitch import payloads
from tests.fakes.twitch.webhook import notification
from tests.integration.test_http_module import SECRET, build_module, make_request
from tests.integration.test_twitch_collector import (  # a fake Twitch and a whole WaddleBot
    STREAMER,
    VIEWER,
    World,
    _connected,
    extra_settings,  # noqa: F401 - a fixture of the world
    world,  # noqa: F401 - a fixture
)
from tests.support.harness import chat_event, make_settings, serving, until
from waddlebot.core.contract import ModuleRequest, ModuleResponse
from waddlebot.core.manifest import Manifest
from waddlebot.features.identity import apikeys
from waddlebot.infra import keys, tracing
from waddlebot.infra.codec import decode_envelope, decode_outbound
from waddlebot.infra.tracing.settings import TracingSettings
from waddlebot.router.breaker import ModuleUnavailable
from waddlebot.router.remote import HttpModuleClient
from waddlebot.runtime import Runtime
from waddlebot.sdk import Context, Module
from waddlebot.sdk.server import create_module_app
from waddlebot.settings import Settings


@pytest.fixture
def transport() -> str:
    """Twitch delivers over webhooks (the world of tests/integration/test_twitch_collector)."""
    return "webhook"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.enable(TracingSettings(tracing=True), ["api"], processor=SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        tracing.disable()


def _trip(spans: Sequence[ReadableSpan]) -> list[tuple[str, str, SpanKind]]:
    """The trace that ends in a reply sent: each span as (name, its parent's name, kind), in
    the order of the trip. (A webhook's delivery repeated is a trace of its own.)"""
    (sent,) = [s for s in spans if s.name == "replies send"]
    assert sent.context is not None
    mine = [
        s for s in spans if s.context is not None and s.context.trace_id == sent.context.trace_id
    ]
    by_id = {s.context.span_id: s for s in mine if s.context is not None}
    return sorted(
        ((s.name, by_id[s.parent.span_id].name if s.parent else "", s.kind) for s in mine),
        key=lambda row: _ORDER.index(row[0]),
    )


_ORDER = [
    "POST /api/v1/events",
    "POST /collectors/twitch/eventsub",
    "events publish",
    "events process",
    "module core",
    "replies publish",
    "replies send",
]


async def _key(runtime: Runtime) -> dict[str, str]:
    _, plaintext = await apikeys.create_key(runtime.db, "tests")
    return {"Authorization": f"Bearer {plaintext}"}


async def test_a_command_through_the_api_is_one_trace(
    settings: Settings, spans: InMemorySpanExporter
) -> None:
    event = chat_event("!ping", platform="console", entity="console:local")
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        auth = await _key(runtime)
        response = await http.post(
            "/api/v1/events?wait=true", headers=auth, json=event.model_dump(mode="json")
        )
        assert response.status_code == 200, response.text
        (result,) = response.json()["results"]
        assert [r["text"] for r in result["replies"]] == ["pong"]
        assert "traceparent" not in result["replies"][0]  # the API's answer is as it was
        await until(lambda: any(s.name == "replies send" for s in spans.get_finished_spans()))
    finished = spans.get_finished_spans()
    assert _trip(finished) == [
        ("POST /api/v1/events", "", SpanKind.SERVER),
        ("events publish", "POST /api/v1/events", SpanKind.PRODUCER),
        ("events process", "events publish", SpanKind.CONSUMER),
        ("module core", "events process", SpanKind.CLIENT),
        ("replies publish", "events process", SpanKind.PRODUCER),
        ("replies send", "replies publish", SpanKind.CONSUMER),
    ]
    by_name = {s.name: s for s in finished}
    assert by_name["POST /api/v1/events"].attributes == {
        "http.route": "POST /api/v1/events",
        "waddlebot.platform": "console",
        "waddlebot.event_type": "chat_message",
    }
    assert by_name["module core"].attributes == {"waddlebot.module": "core"}
    recorded = " ".join(str(dict(s.attributes or {})) for s in finished)
    assert "!ping" not in recorded and "viewer" not in recorded and "pong" not in recorded


async def test_a_twitch_webhook_delivery_is_one_trace(
    world: World,  # noqa: F811 - the fixture imported above
    spans: InMemorySpanExporter,
) -> None:
    await _connected(world)
    chat = payloads.chat_message(broadcaster=STREAMER, chatter=VIEWER, text="!ping")
    await world.twitch.emit("channel.chat.message", chat)
    await until(lambda: any(m.text == "pong" for m in world.twitch.sent_chat(STREAMER)))
    await until(lambda: any(s.name == "replies send" for s in spans.get_finished_spans()))
    route = "POST /collectors/twitch/eventsub"
    assert _trip(spans.get_finished_spans()) == [
        (route, "", SpanKind.SERVER),
        ("events publish", route, SpanKind.PRODUCER),
        ("events process", "events publish", SpanKind.CONSUMER),
        ("module core", "events process", SpanKind.CLIENT),
        ("replies publish", "events process", SpanKind.PRODUCER),
        ("replies send", "replies publish", SpanKind.CONSUMER),
    ]
    (received,) = {
        tuple(sorted((s.attributes or {}).items()))
        for s in spans.get_finished_spans()
        if s.name == route
    }
    assert dict(received) == {
        "http.route": route,
        "waddlebot.platform": "twitch",
        "waddlebot.event_type": "channel.chat.message",
    }


async def test_tracing_off_carries_nothing(settings: Settings) -> None:
    assert tracing.TRACER is None
    event = chat_event("!ping")
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        auth = await _key(runtime)
        response = await http.post(
            "/api/v1/events?wait=true", headers=auth, json=event.model_dump(mode="json")
        )
        assert response.status_code == 200, response.text
        bus = runtime.ports.bus
        (entry,) = await bus.entries(keys.EVENTS_STREAM)
        assert decode_envelope(entry.data).traceparent is None
        assert b'"p"' not in entry.data
        (reply,) = await bus.entries(keys.replies_stream("twitch"))
        assert decode_outbound(reply.data).text == "pong"
        assert b"traceparent" not in reply.data


class _Recording(httpx2.AsyncBaseTransport):
    """The module app in process, remembering each request's traceparent header."""

    def __init__(self, app: object) -> None:
        self._inner = httpx2.ASGITransport(app)  # type: ignore[arg-type]
        self.traceparents: list[str | None] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.traceparents.append(request.headers.get("traceparent"))
        return await self._inner.handle_async_request(request)


@pytest.mark.parametrize("traced", [True, False])
async def test_an_http_module_is_sent_the_traceparent(
    traced: bool, spans: InMemorySpanExporter
) -> None:
    module = build_module(Counter())
    transport = _Recording(create_module_app(module, SECRET))
    client = HttpModuleClient(
        "http://module", SECRET, transport=transport, manifest=module.manifest
    )
    expected: list[str | None] = [None]
    try:
        if traced:
            assert tracing.TRACER is not None
            with tracing.TRACER.start_as_current_span("module echoer") as span:
                response = await client.call(make_request("usage"))
            expected = [tracing.traceparent(span)]
        else:
            tracing.disable()
            response = await client.call(make_request("usage"))
    finally:
        await client.close()
    assert response.usage_error == "need a name"  # the module answered
    assert transport.traceparents == expected


async def test_a_process_with_tracing_on_traces_until_it_stops(tmp_path: Path) -> None:
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db",
        data_dir=str(tmp_path),
        tracing=True,
        tracing_endpoint="http://127.0.0.1:9/v1/traces",  # nothing is sent: no span is made
    )
    assert tracing.TRACER is None
    runtime = await Runtime.start(settings, ["router"])
    try:
        assert tracing.TRACER is not None
        assert tracing.current_traceparent() is None  # no span is current
    finally:
        await runtime.stop()
    assert tracing.TRACER is None


CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
CALLER = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


def _only(spans: InMemorySpanExporter, name: str) -> ReadableSpan:
    (span,) = [s for s in spans.get_finished_spans() if s.name == name]
    return span


def _continues_the_caller(span: ReadableSpan) -> bool:
    assert span.context is not None
    return (
        span.parent is not None
        and f"{span.parent.span_id:016x}" == CALLER_SPAN
        and f"{span.context.trace_id:032x}" == CALLER_TRACE
    )


@pytest.mark.parametrize(
    ("sent", "continued"),
    [(CALLER, True), ("00-not-a-trace-01", False), (f"00-{'0' * 32}-{CALLER_SPAN}-01", False)],
)
async def test_the_api_continues_a_callers_trace(
    sent: str, continued: bool, settings: Settings, spans: InMemorySpanExporter
) -> None:
    event = chat_event("!ping", platform="console", entity="console:local")
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        headers = {**await _key(runtime), "traceparent": sent}
        response = await http.post(
            "/api/v1/events?wait=true", headers=headers, json=event.model_dump(mode="json")
        )
        assert response.status_code == 200, response.text  # a malformed header is ignored
        await until(lambda: any(s.name == "replies send" for s in spans.get_finished_spans()))
    received = _only(spans, "POST /api/v1/events")
    assert _continues_the_caller(received) is continued
    if not continued:
        assert received.parent is None  # a new trace
    sent_reply = _only(spans, "replies send")
    assert sent_reply.context is not None and received.context is not None
    assert sent_reply.context.trace_id == received.context.trace_id


async def test_a_twitch_webhook_continues_a_proxys_trace(
    world: World,  # noqa: F811 - the fixture imported above
    spans: InMemorySpanExporter,
) -> None:
    await _connected(world)
    (subscription,) = world.twitch.subscriptions("channel.chat.message", "enabled")
    chat = payloads.chat_message(broadcaster=STREAMER, chatter=VIEWER, text="!ping")
    result = await world.twitch.webhooks.send(
        subscription.transport["callback"],
        subscription.transport["secret"],
        notification(subscription.public(), chat),
        extra_headers={"traceparent": CALLER},
    )
    assert result.ok, result
    await until(lambda: any(s.name == "replies send" for s in spans.get_finished_spans()))
    received = [  # the command, and Twitch's echo of the bot's answer (a trace of its own)
        s
        for s in spans.get_finished_spans()
        if s.name == "POST /collectors/twitch/eventsub"
        and (s.attributes or {}).get("waddlebot.event_type") == "channel.chat.message"
    ]
    assert [_continues_the_caller(s) for s in received].count(True) == 1
    sent_reply = _only(spans, "replies send")
    assert sent_reply.context is not None
    assert f"{sent_reply.context.trace_id:032x}" == CALLER_TRACE


class _Failing:
    """A module whose every call fails the way it is told: raises, hangs, or is refused."""

    def __init__(self, failure: str) -> None:
        self._module = Module("broken")

        @self._module.command("broken")
        async def broken(ctx: Context) -> str:
            return "never"

        self._failure = failure

    @property
    def name(self) -> str:
        return "broken"

    @property
    def manifest(self) -> Manifest:
        return self._module.manifest

    async def call(self, request: ModuleRequest) -> ModuleResponse:
        if self._failure == "timeout":
            await asyncio.Event().wait()
        if self._failure == "unavailable":
            raise ModuleUnavailable(self.name)
        raise RuntimeError("the secret text someone typed")

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("failure", "exception"),
    [
        ("error", "builtins.RuntimeError"),
        ("timeout", "builtins.TimeoutError"),
        ("unavailable", "waddlebot.router.breaker.ModuleUnavailable"),
    ],
)
async def test_a_failing_module_call_is_an_error_span(
    failure: str, exception: str, settings: Settings, spans: InMemorySpanExporter
) -> None:
    settings = settings.model_copy(update={"module_timeout_seconds": 0.2})
    event = chat_event("!broken", platform="console", entity="console:local")
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        runtime.registry.add(_Failing(failure))
        response = await http.post(
            "/api/v1/events?wait=true",
            headers=await _key(runtime),
            json=event.model_dump(mode="json"),
        )
        assert response.status_code == 200, response.text
        (result,) = response.json()["results"]
        assert result["replies"][0]["text"].startswith(("Sorry, !broken", "!broken is unavailable"))
    called = _only(spans, "module broken")
    assert called.status.status_code is StatusCode.ERROR
    assert called.status.description == failure
    assert (called.attributes or {})["waddlebot.outcome"] == failure
    (raised,) = called.events
    assert raised.name == "exception"
    assert dict(raised.attributes or {}) == {"exception.type": exception}
    assert "secret text" not in str([dict(s.attributes or {}) for s in spans.get_finished_spans()])


async def test_a_module_that_answers_is_not_an_error_span(
    settings: Settings, spans: InMemorySpanExporter
) -> None:
    event = chat_event("!ping", platform="console", entity="console:local")
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        response = await http.post(
            "/api/v1/events?wait=true",
            headers=await _key(runtime),
            json=event.model_dump(mode="json"),
        )
        assert response.status_code == 200, response.text
    called = _only(spans, "module core")
    assert called.status.status_code is StatusCode.UNSET
    assert not called.events
