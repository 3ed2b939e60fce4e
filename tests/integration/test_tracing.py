"""OpenTelemetry tracing of one chat message (infra/tracing): a command taken by the API or a
Twitch webhook is one trace, received, published, processed, handed to the module, its reply
published and sent; with tracing off nothing is traced and nothing is carried."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx2
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.fakes.twitch import payloads
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
from waddlebot.features.identity import apikeys
from waddlebot.infra import keys, tracing
from waddlebot.infra.codec import decode_envelope, decode_outbound
from waddlebot.infra.tracing.settings import TracingSettings
from waddlebot.router.remote import HttpModuleClient
from waddlebot.runtime import Runtime
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
