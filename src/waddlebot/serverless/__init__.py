"""Serverless (``#``) modules: the same module contract, invoked on AWS Lambda, Apache
OpenWhisk or a signed HTTP function; what the engines share is :mod:`waddlebot.core.functions`
(re-exported here)."""

from waddlebot.core.functions import (
    MANIFEST_REQUEST,
    MAX_PAYLOAD_BYTES,
    Engine,
    Invocation,
    Meter,
)

__all__ = ["MANIFEST_REQUEST", "MAX_PAYLOAD_BYTES", "Engine", "Invocation", "Meter"]
