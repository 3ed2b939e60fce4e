"""The tracing section of the settings (``WADDLEBOT_TRACING*``): OpenTelemetry traces of a
chat message's trip, off unless turned on (docs/operations.md, "Tracing")."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TracingSettings(BaseModel):
    """OpenTelemetry traces of each chat message, sent over OTLP/HTTP (off by default)."""

    tracing: bool = Field(
        default=False,
        description="send OpenTelemetry traces (needs the otel extra: waddlebot[otel])",
    )
    tracing_endpoint: str = Field(
        default="",
        description="the OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces; empty: "
        "the exporter's own (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else localhost:4318)",
    )
    tracing_service_name: str = Field(
        default="",
        description="service.name of this process's spans; empty: OTEL_SERVICE_NAME, else "
        "waddlebot-<service> for one service (waddlebot-router), waddlebot for several",
    )
    tracing_sample_ratio: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="share of new traces kept; a trace begun elsewhere keeps its decision",
    )
