"""HMAC request signing: known answer, tampering, replay window, rotation, header case."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from waddlebot.infra.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    verify,
)

SECRET = b"s3cr3t-key"
BODY = b'{"command":"echo","args":["a","b"]}'
TS = 1_700_000_000


def test_known_answer_vector() -> None:
    expected = hmac.new(SECRET, b"1700000000." + BODY, hashlib.sha256).hexdigest()
    headers = sign(SECRET, BODY, timestamp=TS)
    assert headers == {TIMESTAMP_HEADER: "1700000000", SIGNATURE_HEADER: f"v1={expected}"}
    assert headers[SIGNATURE_HEADER] == headers[SIGNATURE_HEADER].lower()


def test_fixed_vector_literal() -> None:
    # computed outside Python: printf '1700000000.<BODY>' | openssl dgst -sha256 -hmac s3cr3t-key
    assert sign(SECRET, BODY, timestamp=TS)[SIGNATURE_HEADER] == (
        "v1=9e7f78d4b3e1c460c52c073a1d4fc969a7455526a084b3573feb86fe90f51253"
    )
    # printf '0.' | openssl dgst -sha256 -hmac key
    assert sign(b"key", b"", timestamp=0)[SIGNATURE_HEADER] == (
        "v1=85841b4efc3cd7776c3c8f9b7cca9e281c550e5d19889d78e9e669c6337f000d"
    )


def test_round_trip_now() -> None:
    verify(SECRET, BODY, sign(SECRET, BODY))


def test_verify_accepts_at_given_now() -> None:
    verify(SECRET, BODY, sign(SECRET, BODY, timestamp=TS), now=TS + 10)


def test_tampered_body_is_refused() -> None:
    headers = sign(SECRET, BODY, timestamp=TS)
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, BODY.replace(b"echo", b"ecHo"), headers, now=TS)


def test_tampered_timestamp_is_refused() -> None:
    headers = sign(SECRET, BODY, timestamp=TS)
    headers[TIMESTAMP_HEADER] = str(TS + 1)
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, BODY, headers, now=TS)


def test_wrong_secret_is_refused() -> None:
    headers = sign(b"another-secret", BODY, timestamp=TS)
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, BODY, headers, now=TS)


def test_stale_timestamp_is_refused() -> None:
    headers = sign(SECRET, BODY, timestamp=TS)
    verify(SECRET, BODY, headers, now=TS + 300)  # edge of the window is still fine
    with pytest.raises(SignatureError, match="too old"):
        verify(SECRET, BODY, headers, now=TS + 301)
    with pytest.raises(SignatureError, match="too old"):
        verify(SECRET, BODY, headers, now=TS + 31, tolerance=30)


def test_future_timestamp_is_refused() -> None:
    headers = sign(SECRET, BODY, timestamp=TS)
    verify(SECRET, BODY, headers, now=TS - 300)
    with pytest.raises(SignatureError, match="future"):
        verify(SECRET, BODY, headers, now=TS - 301)


def test_header_names_are_case_insensitive() -> None:
    headers = sign(SECRET, BODY, timestamp=TS)
    lower = {k.lower(): v for k, v in headers.items()}
    upper = {k.upper(): v for k, v in headers.items()}
    verify(SECRET, BODY, lower, now=TS)
    verify(SECRET, BODY, upper, now=TS)


def test_rotation_accepts_any_of_several_signatures() -> None:
    old, new = b"old-secret", b"new-secret"
    sig_old = sign(old, BODY, timestamp=TS)[SIGNATURE_HEADER]
    sig_new = sign(new, BODY, timestamp=TS)[SIGNATURE_HEADER]
    headers = {TIMESTAMP_HEADER: str(TS), SIGNATURE_HEADER: f"{sig_old}, {sig_new}"}
    verify(old, BODY, headers, now=TS)
    verify(new, BODY, headers, now=TS)
    with pytest.raises(SignatureError, match="does not match"):
        verify(b"third-secret", BODY, headers, now=TS)


def test_unknown_schemes_are_ignored_but_one_v1_is_needed() -> None:
    good = sign(SECRET, BODY, timestamp=TS)[SIGNATURE_HEADER]
    verify(SECRET, BODY, {TIMESTAMP_HEADER: str(TS), SIGNATURE_HEADER: f"v9=abc,{good}"}, now=TS)
    with pytest.raises(SignatureError, match="no v1"):
        verify(SECRET, BODY, {TIMESTAMP_HEADER: str(TS), SIGNATURE_HEADER: "v9=abc"}, now=TS)


@pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_missing_header_is_refused(missing: str) -> None:
    headers = sign(SECRET, BODY, timestamp=TS)
    del headers[missing]
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, BODY, headers, now=TS)


@pytest.mark.parametrize("value", ["", "abc", "1.5", "-5", "1e9", "0x10", "1_700_000_000"])
def test_non_integer_timestamp_is_refused(value: str) -> None:
    headers = sign(SECRET, BODY, timestamp=TS)
    headers[TIMESTAMP_HEADER] = value
    with pytest.raises(SignatureError, match="not an integer"):
        verify(SECRET, BODY, headers, now=TS)


@pytest.mark.parametrize("value", ["v1=", "v1=zz", "v1=" + "é" * 64, "garbage"])
def test_malformed_signature_is_refused(value: str) -> None:
    headers = {TIMESTAMP_HEADER: str(TS), SIGNATURE_HEADER: value}
    with pytest.raises(SignatureError):
        verify(SECRET, BODY, headers, now=TS)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty secret"):
        sign(b"", BODY)
    headers = sign(SECRET, BODY, timestamp=TS)
    with pytest.raises(ValueError, match="empty secret"):
        verify(b"", BODY, headers, now=TS)


def test_signature_error_carries_reason() -> None:
    with pytest.raises(SignatureError) as info:
        verify(SECRET, BODY, {}, now=TS)
    assert "missing" in info.value.reason
