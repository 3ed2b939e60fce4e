"""Small pieces of Slack's wire format: ids, tokens, message timestamps, request signatures and
the Web API's answer bodies."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import string
import uuid
from typing import Any

_ID_ALPHABET = string.ascii_uppercase + string.digits
_TOKEN_ALPHABET = string.ascii_letters + string.digits
MAX_MESSAGE_CHARS = 40_000  # chat.postMessage refuses longer text with msg_too_long


def slack_id(prefix: str) -> str:
    """An object id: ``T`` team, ``U`` user, ``B`` bot, ``A`` app, ``C``/``G``/``D`` conversation,
    then ten upper-case letters and digits."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


def event_id() -> str:
    return slack_id("Ev")


def digits(count: int) -> str:
    return str(secrets.randbelow(9 * 10 ** (count - 1)) + 10 ** (count - 1))


def bot_token() -> str:
    """``xoxb-<team part>-<bot part>-<24 letters and digits>``."""
    tail = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(24))
    return f"xoxb-{digits(13)}-{digits(13)}-{tail}"


def user_token() -> str:
    return f"xoxp-{digits(13)}-{digits(13)}-{digits(13)}-{secrets.token_hex(16)}"


def app_token(app_id: str) -> str:
    """An app-level token, what ``apps.connections.open`` wants."""
    return f"xapp-1-{app_id}-{digits(13)}-{secrets.token_hex(32)}"


def client_id() -> str:
    return f"{digits(10)}.{digits(12)}"


def trigger_id() -> str:
    return f"{digits(10)}.{digits(12)}.{secrets.token_hex(16)}"


def new_uuid() -> str:
    return str(uuid.uuid4())


class TsClock:
    """Message timestamps, ``"<seconds>.<microseconds>"``, unique and increasing: Slack's ``ts``
    both orders a conversation and identifies a message in it."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, now: float) -> str:
        micros = max(math.floor(now * 1_000_000), self._last + 1)
        self._last = micros
        seconds, fraction = divmod(micros, 1_000_000)
        return f"{seconds}.{fraction:06d}"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v0=`` + hex HMAC-SHA256 of ``v0:<timestamp>:<raw body>``, keyed by the signing secret
    used as plain UTF-8."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def truthy(value: Any) -> bool:
    """A boolean argument as form fields and JSON bodies carry it."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes")
