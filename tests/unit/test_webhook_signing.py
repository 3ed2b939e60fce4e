"""Module messages signed as Standard Webhooks, with the old headers accepted for a release."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from waddlebot.infra import signing
from waddlebot.infra.signing import SignatureError
from waddlebot.infra.webhook_signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    sign_message,
    signing_key,
    verify_message,
    whsec,
)

SECRET = b"module-secret-for-tests"
BODY = b'{"command":"echo","args":["a","b"]}'


def standard_only(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("webhook-")}


def old_only(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if not k.startswith("webhook-")}


def test_the_signature_is_the_standard_hmac_of_id_timestamp_and_body() -> None:
    headers = sign_message(SECRET, BODY, message_id="msg_1", timestamp=1_700_000_000)
    mac = hmac.new(SECRET, b"msg_1.1700000000." + BODY, hashlib.sha256).digest()
    assert headers[ID_HEADER] == "msg_1"
    assert headers[TIMESTAMP_HEADER] == "1700000000"
    assert headers[SIGNATURE_HEADER] == "v1," + base64.b64encode(mac).decode()
    # and today's headers beside them, unchanged
    assert headers[signing.SIGNATURE_HEADER] == signing.signature(SECRET, BODY, 1_700_000_000)


def test_an_author_verifies_with_the_standard_library_and_the_whsec_form() -> None:
    headers = sign_message(SECRET, BODY)
    Webhook(whsec(SECRET)).verify(BODY, standard_only(headers))
    with pytest.raises(WebhookVerificationError):
        Webhook(whsec(b"another-secret")).verify(BODY, standard_only(headers))


def test_a_whsec_secret_is_keyed_by_its_decoded_bytes() -> None:
    raw = bytes(range(32))
    secret = b"whsec_" + base64.b64encode(raw)
    assert signing_key(secret) == raw
    assert whsec(secret) == secret.decode()
    headers = sign_message(secret, BODY)
    Webhook(secret.decode()).verify(BODY, standard_only(headers))
    signing.verify(secret, BODY, old_only(headers))  # the old headers: the setting's bytes
    with pytest.raises(ValueError, match="base64"):
        signing_key(b"whsec_not base64!")


@pytest.mark.parametrize("which", [standard_only, old_only, dict])
def test_old_style_new_style_and_both_verify(which: object) -> None:
    headers = sign_message(SECRET, BODY)
    verified = verify_message(SECRET, BODY, which(headers))  # type: ignore[operator]
    expected_id = None if which is old_only else headers[ID_HEADER]
    assert verified.message_id == expected_id


@pytest.mark.parametrize("which", [standard_only, old_only])
def test_a_tampered_body_is_refused(which: object) -> None:
    headers = which(sign_message(SECRET, BODY))  # type: ignore[operator]
    with pytest.raises(SignatureError, match="does not match"):
        verify_message(SECRET, BODY.replace(b"echo", b"ecHo"), headers)


def test_a_tampered_id_is_refused() -> None:
    headers = standard_only(sign_message(SECRET, BODY))
    headers[ID_HEADER] = "msg_other"
    with pytest.raises(SignatureError, match="does not match"):
        verify_message(SECRET, BODY, headers)


@pytest.mark.parametrize("which", [standard_only, old_only])
def test_an_expired_message_is_refused(which: object) -> None:
    old = int(time.time()) - 301
    headers = which(sign_message(SECRET, BODY, timestamp=old))  # type: ignore[operator]
    with pytest.raises(SignatureError, match="too old"):
        verify_message(SECRET, BODY, headers)


@pytest.mark.parametrize("which", [standard_only, old_only, dict])
def test_a_replayed_message_is_refused(which: object) -> None:
    guard = ReplayGuard()
    headers = which(sign_message(SECRET, BODY))  # type: ignore[operator]
    verify_message(SECRET, BODY, headers, replays=guard)
    with pytest.raises(SignatureError, match="replay"):
        verify_message(SECRET, BODY, headers, replays=guard)


def test_stripping_the_new_headers_replays_nothing() -> None:
    guard = ReplayGuard()
    headers = sign_message(SECRET, BODY)
    verify_message(SECRET, BODY, headers, replays=guard)
    with pytest.raises(SignatureError, match="replay"):
        verify_message(SECRET, BODY, old_only(headers), replays=guard)


def test_the_replay_guard_forgets_what_the_timestamp_check_refuses_anyway() -> None:
    guard = ReplayGuard(tolerance=300)
    guard.remember("id:a", timestamp=1000)
    assert guard.seen("id:a", now=1300)
    assert not guard.seen("id:a", now=1301)


def test_an_answer_signed_for_another_call_is_refused() -> None:
    answer = sign_message(SECRET, BODY, message_id="msg_call_1")
    assert verify_message(SECRET, BODY, answer, answering="msg_call_1").message_id == "msg_call_1"
    with pytest.raises(SignatureError, match="another call"):
        verify_message(SECRET, BODY, answer, answering="msg_call_2")


@pytest.mark.parametrize(
    "value", ["v1", "v1,", "v1,not*base64", "garbage", "v2,abc", "v1,abc " * 9]
)
def test_a_malformed_signature_header_is_a_refusal(value: str) -> None:
    headers = standard_only(sign_message(SECRET, BODY))
    headers[SIGNATURE_HEADER] = value
    with pytest.raises(SignatureError):
        verify_message(SECRET, BODY, headers)


@pytest.mark.parametrize("missing", [ID_HEADER, TIMESTAMP_HEADER])
def test_a_missing_header_is_named(missing: str) -> None:
    headers = standard_only(sign_message(SECRET, BODY))
    del headers[missing]
    with pytest.raises(SignatureError, match=f"missing {missing}"):
        verify_message(SECRET, BODY, headers)


def test_rotation_any_of_several_signatures() -> None:
    ts = int(time.time())
    new = sign_message(b"new-secret", BODY, message_id="msg_r", timestamp=ts)
    old = sign_message(SECRET, BODY, message_id="msg_r", timestamp=ts)
    headers = {**new, SIGNATURE_HEADER: f"{old[SIGNATURE_HEADER]} {new[SIGNATURE_HEADER]}"}
    verify_message(SECRET, BODY, standard_only(headers))
    verify_message(b"new-secret", BODY, standard_only(headers))
