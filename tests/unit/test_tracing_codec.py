"""What tracing carries on the bus (the envelope's ``p``, an outbound message's
``traceparent``) and how a process is named and turned on (infra/tracing)."""

from __future__ import annotations

import sys

import orjson
import pytest

from tests.support.harness import chat_event
from waddlebot.core.contract import OutboundMessage
from waddlebot.core.errors import ConfigurationError
from waddlebot.infra import tracing
from waddlebot.infra.codec import decode_envelope, decode_outbound, encode_envelope, encode_outbound
from waddlebot.infra.tracing.settings import TracingSettings

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_an_envelope_carries_the_traceparent_only_when_given() -> None:
    event = chat_event("!ping")
    plain = encode_envelope(event, notify=True)
    assert set(orjson.loads(plain)) == {"e", "n", "t"}
    assert decode_envelope(plain).traceparent is None
    traced = encode_envelope(event, notify=True, traceparent=TRACEPARENT)
    assert orjson.loads(traced)["p"] == TRACEPARENT
    envelope = decode_envelope(traced)
    assert (envelope.event, envelope.notify, envelope.traceparent) == (event, True, TRACEPARENT)


def test_an_envelope_written_before_tracing_decodes() -> None:
    event = chat_event("!ping")
    old = b'{"e":%b,"n":false,"t":1700000000.5,"r":true}' % event.model_dump_json().encode()
    envelope = decode_envelope(old)
    assert (envelope.event, envelope.accepted_at, envelope.replayed) == (event, 1700000000.5, True)
    assert envelope.traceparent is None


def test_an_outbound_message_carries_the_traceparent_only_when_set() -> None:
    message = OutboundMessage(
        outbound_id="e1:core:0", event_id="e1", session_id="s1", platform="twitch",
        entity_id="twitch:1", text="pong",
    )  # fmt: skip
    assert b"traceparent" not in encode_outbound(message)
    old = encode_outbound(message)
    assert decode_outbound(old).traceparent is None
    traced = message.model_copy(update={"traceparent": TRACEPARENT})
    assert decode_outbound(encode_outbound(traced)) == traced


@pytest.mark.parametrize(
    ("configured", "environ", "services", "expected"),
    [
        ("bot-eu", {"OTEL_SERVICE_NAME": "other"}, ["router"], "bot-eu"),
        ("", {"OTEL_SERVICE_NAME": "other"}, ["router"], "other"),
        ("", {}, ["router"], "waddlebot-router"),
        ("", {}, ["api", "router", "twitch"], "waddlebot"),
    ],
)
def test_the_service_name(
    configured: str, environ: dict[str, str], services: list[str], expected: str
) -> None:
    settings = TracingSettings(tracing=True, tracing_service_name=configured)
    assert tracing.service_name(settings, services, environ) == expected


def test_tracing_on_without_the_packages_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # as if not installed
    with pytest.raises(ConfigurationError) as raised:
        tracing.enable(TracingSettings(tracing=True), ["router"])
    assert "WADDLEBOT_TRACING" in str(raised.value) and "waddlebot[otel]" in str(raised.value)
    assert tracing.TRACER is None


def test_enabled_tracing_names_the_process_and_samples_as_set() -> None:
    settings = TracingSettings(tracing=True, tracing_sample_ratio=0.0)
    tracing.enable(settings, ["twitch"])
    try:
        assert tracing.TRACER is not None
        with tracing.publishing("events") as carried:
            assert carried is not None and not _sampled(carried)
        with tracing.sending("twitch", TRACEPARENT) as sent:  # a sampled trace from elsewhere
            assert sent is not None and _sampled(sent)
            assert sent.split("-")[1] == TRACEPARENT.split("-")[1]
    finally:
        tracing.disable()
    assert tracing.TRACER is None
    with tracing.publishing("events") as carried:
        assert carried is None


def _sampled(traceparent: str) -> bool:
    return bool(int(traceparent.rsplit("-", 1)[1], 16) & 1)
