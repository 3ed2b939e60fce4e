"""OpenTelemetry tracing of one chat message: received (a webhook, ``POST /events``), put on
the bus, taken by the router, handed to each module, its replies put on their streams and
sent. The W3C ``traceparent`` travels in the bus envelope and on each outbound message, and
as a header to HTTP modules; one a caller sends with a webhook or ``POST /events`` is
continued (a malformed one starts a new trace). A module call that fails, times out or is
refused (its breaker open, or busy) ends with error status, its outcome and the exception's
type (never its message, which may quote what someone wrote).

Off by default, and then free: :data:`TRACER` is None, and the code on the way checks only
that (no span, no context lookup). The OpenTelemetry packages are the optional ``otel``
extra, imported only when tracing is turned on. Spans carry platforms, event types, streams
and module names; never message text, user names or ids.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from waddlebot.core.errors import ConfigurationError
from waddlebot.infra.tracing.settings import TracingSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Span, SpanKind, Tracer

TRACER: Tracer | None = None  # None while tracing is off: the one check on every path
_PROVIDER: TracerProvider | None = None
_OFF: contextlib.nullcontext[None] = contextlib.nullcontext()
OTEL_FIX = "Install the otel extra (pip install 'waddlebot[otel]'), or unset WADDLEBOT_TRACING."


def enable(
    settings: TracingSettings,
    services: Iterable[str],
    *,
    processor: SpanProcessor | None = None,
) -> None:
    """Turn tracing on for this process: spans of ``services`` go to ``processor``, by
    default batched to the OTLP/HTTP endpoint of the settings."""
    global TRACER, _PROVIDER
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError as exc:
        raise ConfigurationError(
            "is on, but the OpenTelemetry packages are not installed",
            setting="WADDLEBOT_TRACING",
            fix=OTEL_FIX,
        ) from exc
    if processor is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.tracing_endpoint or None)
        processor = BatchSpanProcessor(exporter)
    name = service_name(settings, services, os.environ)
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: name}),
        sampler=ParentBased(TraceIdRatioBased(settings.tracing_sample_ratio)),
    )
    provider.add_span_processor(processor)
    disable()
    _PROVIDER, TRACER = provider, provider.get_tracer("waddlebot")


def disable() -> None:
    """Turn tracing off, sending what is left."""
    global TRACER, _PROVIDER
    provider, _PROVIDER, TRACER = _PROVIDER, None, None
    if provider is not None:
        provider.shutdown()


def service_name(
    settings: TracingSettings, services: Iterable[str], environ: Mapping[str, str]
) -> str:
    """The setting, else ``OTEL_SERVICE_NAME``, else named after the one service run here."""
    if settings.tracing_service_name:
        return settings.tracing_service_name
    if environ.get("OTEL_SERVICE_NAME"):
        return environ["OTEL_SERVICE_NAME"]
    served = sorted(set(services))
    return f"waddlebot-{served[0]}" if len(served) == 1 else "waddlebot"


def traceparent(span: Span) -> str:
    """The W3C ``traceparent`` of ``span``."""
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def current_traceparent() -> str | None:
    """The ``traceparent`` of the current span, or None (no span, or tracing off)."""
    if TRACER is None:
        return None
    from opentelemetry import trace

    span = trace.get_current_span()
    return traceparent(span) if span.get_span_context().is_valid else None


def _kind(name: str) -> SpanKind:
    from opentelemetry.trace import SpanKind

    return SpanKind[name]


def _parent(carried: str | None) -> Any:
    """The context a carried ``traceparent`` names (None: the current one; malformed: a new
    trace, as the propagator ignores it)."""
    if carried is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": carried})


@contextlib.contextmanager
def _span(
    name: str, kind: str, attributes: Mapping[str, str], carried: str | None = None
) -> Iterator[str]:
    assert TRACER is not None
    with TRACER.start_as_current_span(
        name, context=_parent(carried), kind=_kind(kind), attributes=dict(attributes)
    ) as span:
        yield traceparent(span)


def received(
    route: str, headers: Mapping[str, str] | None = None, **attributes: str
) -> contextlib.AbstractContextManager[str | None]:
    """A server span while a webhook or the API takes events (``platform``, ``event_type``),
    continuing the trace of the request's ``traceparent`` header when it has a valid one."""
    if TRACER is None:
        return _OFF
    carried = headers.get("traceparent") if headers is not None else None
    return _span(route, "SERVER", {"http.route": route, **_named(attributes)}, carried)


def publishing(stream: str, **attributes: str) -> contextlib.AbstractContextManager[str | None]:
    """A producer span while entries go onto ``stream``; gives its ``traceparent`` to put
    in them (None while tracing is off)."""
    if TRACER is None:
        return _OFF
    return _span(
        f"{stream} publish",
        "PRODUCER",
        {"messaging.operation.type": "send", "messaging.destination.name": stream}
        | _named(attributes),
    )


def sending(platform: str, carried: str | None) -> contextlib.AbstractContextManager[str | None]:
    """A consumer span while a collector sends a reply that carried a ``traceparent``."""
    if TRACER is None or carried is None:
        return _OFF
    return _span(
        "replies send",
        "CONSUMER",
        {"messaging.operation.type": "process", "waddlebot.platform": platform},
        carried,
    )


def start_consumer(stream: str, carried: str | None, **attributes: str) -> Span:
    """A consumer span of an entry taken from ``stream`` (ended by the caller), a child of
    the ``traceparent`` it carried. Only while tracing is on."""
    assert TRACER is not None
    return TRACER.start_span(
        f"{stream} process",
        context=_parent(carried),
        kind=_kind("CONSUMER"),
        attributes={"messaging.operation.type": "process", "messaging.destination.name": stream}
        | _named(attributes),
    )


def start_child(parent: Span, name: str, kind: str, **attributes: str) -> Span:
    """A span under ``parent`` (ended by the caller). Only while tracing is on."""
    from opentelemetry import trace

    assert TRACER is not None
    return TRACER.start_span(
        name,
        context=trace.set_span_in_context(parent),
        kind=_kind(kind),
        attributes=_named(attributes),
    )


def failed(span: Span, outcome: str, error: BaseException) -> None:
    """Mark ``span`` (a module call) as failed: error status and ``waddlebot.outcome``
    (``error``, ``timeout``, ``unavailable``, ``busy``), and an ``exception`` event with the
    exception's type only."""
    from opentelemetry.trace import Status, StatusCode

    kind = type(error)
    span.set_attribute("waddlebot.outcome", outcome)
    span.set_attribute("error.type", kind.__qualname__)
    span.add_event("exception", {"exception.type": f"{kind.__module__}.{kind.__qualname__}"})
    span.set_status(Status(StatusCode.ERROR, outcome))


@contextlib.contextmanager
def current(span: Span) -> Iterator[None]:
    """``span`` as the current span (what :func:`current_traceparent` gives), ended after."""
    from opentelemetry import trace

    with trace.use_span(span, end_on_exit=True):
        yield


def _named(attributes: Mapping[str, str]) -> dict[str, str]:
    return {f"waddlebot.{key}": value for key, value in attributes.items()}
