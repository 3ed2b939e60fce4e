"""Module calls and answers signed in the Standard Webhooks format, today's headers kept.

Every message between the router and an HTTP module (the call to ``POST /v1/handle``, the
module's answer, the manifest) carries two header sets:

* Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``
  (``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``), which an author checks with
  the ``standardwebhooks`` library of their language;
* WaddleBot's own ``X-Waddlebot-Timestamp`` / ``X-Waddlebot-Signature``
  (:mod:`waddlebot.infra.signing`), accepted for one more release so a module built with the
  previous SDK, or a router of the previous release, still works.

A message is checked by the Standard Webhooks headers when it has them, else by the old ones.

The key: ``WADDLEBOT_MODULE_SECRET`` may be a ``whsec_<base64>`` value (what the standard
hands out; the decoded bytes are the HMAC key), or any other string, whose UTF-8 bytes are the
key (so the secrets in use today keep working; their ``whsec_`` form is ``"whsec_" +
base64(secret)``). The old headers are always keyed by the setting's bytes as they are.

Replays: the standard leaves it to the receiver to remember ``webhook-id``. A
:class:`ReplayGuard` remembers every id (and old-style signature) it accepted until its
timestamp leaves the tolerance window, after which the timestamp check refuses it anyway.
An answer is signed with the id of the call it answers, and the router refuses an answer
signed for another call.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from waddlebot.infra import signing
from waddlebot.infra.signing import DEFAULT_TOLERANCE, SignatureError

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the standard's prefix, not a secret

# the id is part of the signed text, delimited by dots: none inside it (the standard says so)
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_:-]{1,128}")
_MAX_SIGNATURES = 8


def signing_key(secret: bytes) -> bytes:
    """The HMAC key of the Standard Webhooks signatures for ``WADDLEBOT_MODULE_SECRET``."""
    signing.check_secret(secret)
    if secret.startswith(SECRET_PREFIX.encode()):
        encoded = secret[len(SECRET_PREFIX) :]
        try:
            key = base64.b64decode(encoded + b"=" * (-len(encoded) % 4), validate=True)
        except binascii.Error as exc:
            raise ValueError("a whsec_ secret must be base64 after its prefix") from exc
        if not key:
            raise ValueError("a whsec_ secret must not be empty after its prefix")
        return key
    return bytes(secret)


def whsec(secret: bytes) -> str:
    """The ``whsec_...`` form of a module secret, as a Standard Webhooks library takes it."""
    return SECRET_PREFIX + base64.b64encode(signing_key(secret)).decode("ascii")


def new_message_id() -> str:
    return f"msg_{secrets.token_hex(16)}"


def sign_message(
    secret: bytes,
    body: bytes,
    *,
    message_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Both header sets signing ``body``: a new id unless ``message_id`` (an answer's: the
    call's id) is given, now unless ``timestamp`` is."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    msg_id = new_message_id() if message_id is None else message_id
    if not _MESSAGE_ID.fullmatch(msg_id):
        raise ValueError("a message id is 1-128 letters, digits, '_', ':' or '-'")
    text = body.decode("utf-8")  # the library signs text; every body here is JSON
    value = Webhook(signing_key(secret)).sign(msg_id, datetime.fromtimestamp(ts, UTC), text)
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: value,
        **signing.sign(secret, body, ts),
    }


class ReplayGuard:
    """The messages accepted lately, so the same one is refused a second time. Bounded: when
    full, the oldest entries make room (a flood could only reopen the window for them)."""

    def __init__(self, tolerance: int = DEFAULT_TOLERANCE, max_entries: int = 100_000) -> None:
        self._tolerance = tolerance
        self._max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> when it can be forgotten

    def seen(self, key: str, now: float) -> bool:
        self._forget_expired(now)
        return key in self._seen

    def remember(self, key: str, timestamp: int) -> None:
        self._seen[key] = timestamp + self._tolerance
        self._seen.move_to_end(key)
        while len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)

    def _forget_expired(self, now: float) -> None:
        while self._seen:
            key, until = next(iter(self._seen.items()))
            if until >= now:
                return
            del self._seen[key]


@dataclass(frozen=True, slots=True)
class Verified:
    """A message that checked out: its ``webhook-id`` (None when it came signed the old way
    only) and timestamp."""

    message_id: str | None
    timestamp: int


def verify_message(
    secret: bytes,
    body: bytes,
    headers: Mapping[str, str],
    *,
    replays: ReplayGuard | None = None,
    answering: str | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Verified:
    """Check ``body`` by its Standard Webhooks headers, or by the old ones when it has none.

    ``replays`` refuses a message seen before; ``answering`` (the id of the call sent) refuses
    an answer signed for another call. Raises :class:`SignatureError` with the reason.
    """
    current = time.time() if now is None else now
    lowered = {key.lower(): value for key, value in headers.items()}
    if SIGNATURE_HEADER in lowered:
        verified = _verify_standard(secret, body, lowered, tolerance, current)
        if answering is not None and verified.message_id != answering:
            raise SignatureError("the answer is signed for another call")
    else:
        signing.verify(secret, body, lowered, tolerance=tolerance, now=current)
        verified = Verified(None, int(lowered[signing.TIMESTAMP_HEADER.lower()].strip()))
    if replays is not None:
        _refuse_replay(replays, verified, lowered, current)
    return verified


def _refuse_replay(
    replays: ReplayGuard, verified: Verified, headers: Mapping[str, str], now: float
) -> None:
    """A message is known by its id, or by its old-style signature when it has no id. Both are
    remembered: a replay with the new headers stripped off is refused too."""
    legacy = headers.get(signing.SIGNATURE_HEADER.lower())
    legacy_key = None if legacy is None else f"v1:{legacy.strip().lower()}"
    key = legacy_key if verified.message_id is None else f"id:{verified.message_id}"
    assert key is not None  # verified by one header set or the other
    if replays.seen(key, now):
        raise SignatureError("message was seen before (replay)")
    for remembered in {key, legacy_key} - {None}:
        assert remembered is not None
        replays.remember(remembered, verified.timestamp)


def _verify_standard(
    secret: bytes, body: bytes, headers: Mapping[str, str], tolerance: int, now: float
) -> Verified:
    msg_id = headers.get(ID_HEADER, "").strip()
    raw_ts = headers.get(TIMESTAMP_HEADER)
    if not msg_id:
        raise SignatureError(f"missing {ID_HEADER} header")
    if not _MESSAGE_ID.fullmatch(msg_id):
        raise SignatureError(f"{ID_HEADER} is not a message id")
    if raw_ts is None:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    timestamp = signing.check_timestamp(raw_ts, tolerance, now)
    if len(headers[SIGNATURE_HEADER].split()) > _MAX_SIGNATURES:
        raise SignatureError("too many signatures")
    # The library parses the signature list and compares in constant time. It also checks the
    # timestamp against the real clock (done above already, against ``now``), and it lets a
    # malformed entry escape as ValueError (a missing comma, bad base64, a body that is not
    # UTF-8): those are refusals like any other.
    try:
        Webhook(signing_key(secret)).verify(
            body, {**headers, TIMESTAMP_HEADER: str(timestamp)}, json_parse=False
        )
    except WebhookVerificationError as exc:
        raise SignatureError(_reason(str(exc))) from exc
    except ValueError as exc:
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header") from exc
    return Verified(msg_id, timestamp)


def _reason(library_message: str) -> str:
    """The library's words, said as the old headers' refusals are (logs and tests read one
    vocabulary)."""
    return {
        "No matching signature found": "signature does not match",
        "Message timestamp too old": "timestamp is too old (possible replay)",
        "Message timestamp too new": "timestamp is in the future",
    }.get(library_message, library_message)
