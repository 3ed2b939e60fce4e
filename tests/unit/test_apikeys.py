"""API key format and the verifier's cache (no database: ``verify_key`` is stubbed)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from waddlebot.services import apikeys
from waddlebot.services.apikeys import ApiKeyInfo, KeyVerifier, hash_secret, parse_key


def _info(key_id: str = "k" * 12) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=1,
        key_id=key_id,
        name="n",
        scopes=("*",),
        community_id=None,
        created_at=datetime.now(UTC),
    )


def test_new_keys_have_the_documented_shape() -> None:
    seen = set()
    for _ in range(200):
        key_id, secret, plaintext = apikeys._new_key()
        assert plaintext == f"wbk_{key_id}_{secret}"
        assert len(key_id) == 12 and key_id.isalnum()
        assert len(secret) == 43  # 32 random bytes, url-safe base64
        assert parse_key(plaintext) == (key_id, secret)
        seen.add(plaintext)
    assert len(seen) == 200


def test_secrets_may_contain_the_separator() -> None:
    key_id, secret = "abcDEF123456", "_" * 20 + "-" * 23
    assert parse_key(f"wbk_{key_id}_{secret}") == (key_id, secret)
    assert parse_key(f"  wbk_{key_id}_{secret}\n") == (key_id, secret)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "wbk_",
        "wbk__",
        "bearer something",
        "wbk_abcDEF123456_" + "a" * 42,
        "wbk_abcDEF123456_" + "a" * 44,
        "wbk_abcDEF12345_" + "a" * 43,
        "wbk_abc-EF123456_" + "a" * 43,
        "WBK_abcDEF123456_" + "a" * 43,
        "wbk_abcDEF123456_" + "a" * 42 + "=",
        "wbk_abcDEF123456_" + "é" * 43,
        "wbk_abcDEF123456_" + "a" * 43 + "\x00",
        None,
        12345,
        b"wbk_abcDEF123456_" + b"a" * 43,
    ],
)
def test_malformed_keys_are_rejected(text: Any) -> None:
    assert parse_key(text) is None


def test_hash_is_sha256_hex() -> None:
    assert hash_secret("s3cret") == hashlib.sha256(b"s3cret").hexdigest()
    assert len(hash_secret("x")) == 64


def test_scopes() -> None:
    assert apikeys._scopes("*") == "*"
    assert apikeys._scopes("") == "*"
    assert apikeys._scopes("a, b c") == "a,b,c"
    assert apikeys._scopes(["a", " b "]) == "a,b"
    info = _info()
    assert info.allows("anything")
    limited = ApiKeyInfo(1, "k", "n", ("events:write",), None, datetime.now(UTC))
    assert limited.allows("events:write") and not limited.allows("admin")


class StubVerify:
    def __init__(self, result: ApiKeyInfo | None) -> None:
        self.result = result
        self.calls: list[str] = []

    async def __call__(self, _db: Any, plaintext: str) -> ApiKeyInfo | None:
        self.calls.append(plaintext)
        return self.result


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(apikeys.time, "monotonic", lambda: now[0])
    return now


async def test_verifier_caches_results_for_ttl(
    monkeypatch: pytest.MonkeyPatch, clock: list[float]
) -> None:
    stub = StubVerify(_info())
    monkeypatch.setattr(apikeys, "verify_key", stub)
    _, _, plaintext = apikeys._new_key()
    verifier = KeyVerifier(db=None, ttl=30)  # type: ignore[arg-type]

    for _ in range(3):
        assert await verifier.verify(plaintext) == stub.result
    assert len(stub.calls) == 1
    clock[0] += 29
    await verifier.verify(plaintext)
    assert len(stub.calls) == 1
    clock[0] += 2
    await verifier.verify(plaintext)
    assert len(stub.calls) == 2

    assert list(verifier._cache) == [hash_secret(plaintext)]  # hashed, never the plaintext
    assert plaintext not in repr(verifier._cache)


async def test_verifier_caches_failures_and_skips_malformed(
    monkeypatch: pytest.MonkeyPatch, clock: list[float]
) -> None:
    stub = StubVerify(None)
    monkeypatch.setattr(apikeys, "verify_key", stub)
    verifier = KeyVerifier(db=None)  # type: ignore[arg-type]
    assert await verifier.verify("not a key") is None
    assert stub.calls == []  # malformed input never reaches the database
    _, _, plaintext = apikeys._new_key()
    assert await verifier.verify(plaintext) is None
    assert await verifier.verify(plaintext) is None
    assert len(stub.calls) == 1


async def test_verifier_forget_and_bounded_size(
    monkeypatch: pytest.MonkeyPatch, clock: list[float]
) -> None:
    stub = StubVerify(_info("abcDEF123456"))
    monkeypatch.setattr(apikeys, "verify_key", stub)
    verifier = KeyVerifier(db=None, max_entries=5)  # type: ignore[arg-type]
    keys = [apikeys._new_key()[2] for _ in range(12)]
    for key in keys:
        await verifier.verify(key)
    assert len(verifier._cache) <= 5
    assert hash_secret(keys[-1]) in verifier._cache  # the newest are kept

    verifier.forget("someone-else")
    assert len(verifier._cache) == 5
    verifier.forget("abcDEF123456")
    assert verifier._cache == {}
    await verifier.verify(keys[0])
    verifier.forget()
    assert verifier._cache == {}
