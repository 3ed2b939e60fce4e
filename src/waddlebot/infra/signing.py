"""HMAC-SHA256 signatures for module calls between the router and an HTTP module.

Both directions carry two headers::

    X-Waddlebot-Timestamp: <unix seconds>
    X-Waddlebot-Signature: v1=<hex HMAC-SHA256(secret, b"<timestamp>." + raw body)>

The timestamp is inside the signed bytes, so a captured message cannot be replayed once it is
older than the tolerance. Several signatures may be sent comma-separated (``v1=aa..,v1=bb..``)
while a secret is being rotated: the message is valid if any of them matches.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Waddlebot-Timestamp"
SIGNATURE_HEADER = "X-Waddlebot-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300  # seconds either side of now

_MAX_SIGNATURES = 8  # more than this in one header is not rotation, it is an attack
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


class SignatureError(Exception):
    """A message is unsigned, stale, or its signature does not match."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_secret(secret: bytes) -> None:
    """TypeError or ValueError unless ``secret`` is non-empty bytes."""
    if not isinstance(secret, bytes | bytearray):
        raise TypeError("the signing secret must be bytes")
    if not secret:
        raise ValueError("refusing to sign or verify with an empty secret")


def check_timestamp(raw: str, tolerance: int, now: float) -> int:
    """The timestamp of a header's value; :class:`SignatureError` unless it is whole seconds
    within ``tolerance`` of ``now``."""
    raw = raw.strip()
    if not _TIMESTAMP.fullmatch(raw):
        raise SignatureError("timestamp is not an integer number of seconds")
    timestamp = int(raw)
    if timestamp < now - tolerance:
        raise SignatureError("timestamp is too old (possible replay)")
    if timestamp > now + tolerance:
        raise SignatureError("timestamp is in the future")
    return timestamp


def _digest(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, f"{timestamp}.".encode("ascii"), hashlib.sha256)
    mac.update(body)
    return mac.hexdigest()


def signature(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``v1=<hex>`` value for one secret, body and timestamp."""
    check_secret(secret)
    return f"{SCHEME}={_digest(secret, timestamp, body)}"


def sign(secret: bytes, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers that sign ``body`` (now, unless ``timestamp`` is given)."""
    check_secret(secret)
    ts = int(time.time()) if timestamp is None else int(timestamp)
    if ts < 0:
        raise ValueError("timestamp must not be negative")
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, body, ts)}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def verify(
    secret: bytes,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check the signature headers of ``body``; raise :class:`SignatureError` if they fail.

    Header names are matched case-insensitively. ``now`` (unix seconds) is for tests.
    """
    check_secret(secret)
    raw_ts = _header(headers, TIMESTAMP_HEADER)
    raw_sig = _header(headers, SIGNATURE_HEADER)
    if raw_ts is None:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    if raw_sig is None:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamp = check_timestamp(raw_ts, tolerance, time.time() if now is None else now)

    candidates: list[str] = []
    for part in raw_sig.split(","):
        scheme, sep, value = part.strip().partition("=")
        if sep and scheme.strip() == SCHEME:
            candidates.append(value.strip().lower())
    if not candidates:
        raise SignatureError(f"no {SCHEME} signature in {SIGNATURE_HEADER}")
    if len(candidates) > _MAX_SIGNATURES:
        raise SignatureError("too many signatures")

    expected = _digest(secret, timestamp, body).encode("ascii")
    matched = False
    for candidate in candidates:  # compare with every candidate: no early exit to time
        well_formed = _HEX_DIGEST.fullmatch(candidate) is not None
        given = candidate.encode("ascii") if well_formed else b""
        matched |= hmac.compare_digest(expected, given) and well_formed
    if not matched:
        raise SignatureError("signature does not match")
