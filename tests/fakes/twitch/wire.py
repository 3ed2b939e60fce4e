"""Small pieces of Twitch's wire format: ids, timestamps, signatures and error bodies."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

_TOKEN_ALPHABET = string.ascii_lowercase + string.digits
_SESSION_ALPHABET = string.ascii_letters + string.digits + "_-"


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_token() -> str:
    """An opaque 30-character lowercase token, the shape Twitch's access tokens have."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(30))


def new_session_id() -> str:
    """An opaque EventSub WebSocket session id, shaped like ``AQoQILE98gtqShGmLD7AM6yJThAB``."""
    return "AQoQ" + "".join(secrets.choice(_SESSION_ALPHABET) for _ in range(24))


def rfc3339_ns(epoch_ns: int) -> str:
    """RFC3339 in UTC with nanoseconds, e.g. ``2019-11-16T10:11:12.634234626Z``."""
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}Z"


def rfc3339_seconds(epoch: float) -> str:
    """The second-precision form Helix uses for ``created_at``/``started_at``."""
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 over message id + timestamp + raw body, keyed by the secret."""
    digest = hmac.new(
        secret.encode(), message_id.encode() + timestamp.encode() + body, hashlib.sha256
    ).hexdigest()
    return f"sha256={digest}"


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def helix_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Helix's error body: ``{"error": <reason phrase>, "status": n, "message": ...}``."""
    body = {"error": HTTPStatus(status).phrase, "status": status, "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


def oauth_error(status: int, message: str) -> JSONResponse:
    """The id.twitch.tv error body, without Helix's ``error`` field: ``{"status", "message"}``."""
    return JSONResponse({"status": status, "message": message}, status_code=status)
