"""API key format and the verifier's cache (no database: ``verify_key`` is stubbed)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from waddlebot.features.identity import apikeys
from waddlebot.features.identity.apikeys import ApiKeyInfo, KeyVerifier, hash_secret, parse_key


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


class KeyTable:
    """Stands in for ``verify_key``: only the keys in ``valid`` verify."""

    def __init__(self) -> None:
        self.valid: dict[str, ApiKeyInfo] = {}
        self.calls: list[str] = []

    async def __call__(self, _db: Any, plaintext: str) -> ApiKeyInfo | None:
        self.calls.append(plaintext)
        return self.valid.get(plaintext)


async def test_verifier_evicts_the_least_recently_used(
    monkeypatch: pytest.MonkeyPatch, clock: list[float]
) -> None:
    table = KeyTable()
    monkeypatch.setattr(apikeys, "verify_key", table)
    verifier = KeyVerifier(db=None, max_entries=3)  # type: ignore[arg-type]
    one, two, three, four = (apikeys._new_key()[2] for _ in range(4))
    for key in (one, two, three, four):
        table.valid[key] = _info()
    for key in (one, two, three, one, four):  # "one" is in use; "two" is the stalest
        await verifier.verify(key)
    assert len(table.calls) == 4
    await verifier.verify(one)
    assert len(table.calls) == 4  # still cached: a key in use is not evicted
    await verifier.verify(two)
    assert table.calls[-1] == two  # evicted, so looked up again


async def test_a_flood_of_made_up_keys_does_not_evict_working_keys(
    monkeypatch: pytest.MonkeyPatch, clock: list[float]
) -> None:
    table = KeyTable()
    monkeypatch.setattr(apikeys, "verify_key", table)
    verifier = KeyVerifier(db=None, max_entries=50, max_failures=10)  # type: ignore[arg-type]
    good = apikeys._new_key()[2]
    table.valid[good] = _info()
    assert await verifier.verify(good) is not None
    bad = [apikeys._new_key()[2] for _ in range(500)]
    for key in bad:
        assert await verifier.verify(key) is None
    assert len(table.calls) == 501
    assert await verifier.verify(good) is not None
    assert len(table.calls) == 501  # the working key was served from the cache
    assert await verifier.verify(bad[-1]) is None
    assert len(table.calls) == 501  # recent failures are cached too...
    assert len(verifier._failures) == 10  # ...in a bounded cache of their own
    assert len(verifier._cache) == 1


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch, clock: list[float]) -> list[datetime]:
    """A wall clock that moves with ``clock`` (advance both with ``tick``)."""
    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    monkeypatch.setattr(apikeys, "utcnow", lambda: now[0])
    return now


def tick(clock: list[float], wall: list[datetime], seconds: float) -> None:
    clock[0] += seconds
    wall[0] += timedelta(seconds=seconds)


async def test_a_cached_key_stops_working_when_it_expires(
    monkeypatch: pytest.MonkeyPatch, clock: list[float], wall: list[datetime]
) -> None:
    table = KeyTable()
    monkeypatch.setattr(apikeys, "verify_key", table)
    verifier = KeyVerifier(db=None, ttl=30)  # type: ignore[arg-type]
    key = apikeys._new_key()[2]
    table.valid[key] = replace(_info(), expires_at=wall[0] + timedelta(seconds=10))
    assert await verifier.verify(key) is not None
    tick(clock, wall, 9)
    assert await verifier.verify(key) is not None
    assert len(table.calls) == 1  # cached while the key is still good
    del table.valid[key]  # what the database says once the key has expired
    tick(clock, wall, 2)  # past its expiry, well within the cache ttl
    assert await verifier.verify(key) is None
    assert len(table.calls) == 2


async def test_an_expired_key_is_not_served_even_if_the_clocks_disagree(
    monkeypatch: pytest.MonkeyPatch, clock: list[float], wall: list[datetime]
) -> None:
    table = KeyTable()
    monkeypatch.setattr(apikeys, "verify_key", table)
    verifier = KeyVerifier(db=None, ttl=30)  # type: ignore[arg-type]
    key = apikeys._new_key()[2]
    table.valid[key] = replace(_info(), expires_at=wall[0] + timedelta(seconds=10))
    assert await verifier.verify(key) is not None
    del table.valid[key]
    wall[0] += timedelta(seconds=11)  # the wall clock moved on, the monotonic one did not
    assert await verifier.verify(key) is None
