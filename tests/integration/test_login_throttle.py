"""Portal logins are throttled: 5 failures per email in 15 minutes, 20 per address in a
minute; then 429 with Retry-After, without hashing. Successes count for nothing. Over real
loopback HTTP (127.0.0.1 and 127.0.0.2 are two addresses), embedded and distributed; on Redis
the counts hold across processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import httpx2
import pytest
from argon2 import PasswordHasher
from prometheus_client import REGISTRY

from tests.support.harness import serving
from waddlebot.features.identity import accounts
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

EMAIL = "pat@example.org"
PASSWORD = "correct horse battery"
LOGIN = "/api/v1/identity/login"


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__()
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingHasher]:
    counting = CountingHasher()
    monkeypatch.setattr(accounts, "_hasher", counting)
    yield counting


async def with_login(runtime: Runtime) -> int:
    user = await runtime.directory.ensure_identity("console", "pat")
    await runtime.accounts.set_login(user, EMAIL, PASSWORD)
    return user


def client(url: str, address: str = "127.0.0.1") -> httpx2.AsyncClient:
    transport = httpx2.AsyncHTTPTransport(local_address=address)
    return httpx2.AsyncClient(base_url=url, transport=transport)


def throttled(scope: str) -> float:
    value = REGISTRY.get_sample_value("waddlebot_logins_throttled_total", {"scope": scope})
    return value or 0.0


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[tuple[str, Runtime]]:
    async with serving(settings) as (url, runtime):
        await with_login(runtime)
        yield url, runtime


async def test_five_failures_lock_the_account_without_hashing(
    site: tuple[str, Runtime], hasher: CountingHasher
) -> None:
    url, runtime = site
    before = throttled("account")
    async with client(url) as http, client(url, "127.0.0.2") as elsewhere:
        for _ in range(5):
            wrong = await http.post(LOGIN, json={"email": EMAIL, "password": "wrong password"})
            assert wrong.status_code == 401
        assert hasher.verified == 5
        for who in (http, elsewhere):  # the right password, from any address
            locked = await who.post(
                LOGIN, json={"email": " PAT@example.org ", "password": PASSWORD}
            )
            assert locked.status_code == 429, locked.text
            assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60
            assert "too many failed logins" in locked.json()["detail"]
        assert hasher.verified == 5  # refused before any hash
        assert throttled("account") - before == 2
        # another account from the same address is not locked
        other = await http.post(LOGIN, json={"email": "kim@example.org", "password": "x"})
        assert other.status_code == 401
    await runtime.audit.flush()
    actions = [(e.action, e.decision) for e in await runtime.audit.recent(50)]
    assert actions.count(("account.login", "deny")) == 6  # the 429s are not rows
    assert ("api.refused", "deny") not in actions  # a failed login is audited as itself


async def test_successes_do_not_count(site: tuple[str, Runtime], hasher: CountingHasher) -> None:
    url, _ = site
    good = {"email": EMAIL, "password": PASSWORD}
    bad = {"email": EMAIL, "password": "nope nope nope"}
    async with client(url) as http:
        for _ in range(4):
            assert (await http.post(LOGIN, json=bad)).status_code == 401
        for _ in range(3):
            logged_in = await http.post(LOGIN, json=good)
            assert logged_in.status_code == 200 and logged_in.json()["token"].startswith("wbs_")
        assert (await http.post(LOGIN, json=bad)).status_code == 401  # the fifth failure
        assert (await http.post(LOGIN, json=good)).status_code == 429
    assert hasher.verified == 8


async def test_twenty_failures_lock_the_address(
    site: tuple[str, Runtime], hasher: CountingHasher
) -> None:
    url, _ = site
    before = throttled("address")
    good = {"email": EMAIL, "password": PASSWORD}
    async with client(url) as http, client(url, "127.0.0.2") as elsewhere:
        for n in range(20):
            guess = {"email": f"nobody{n}@example.org", "password": "guess guess"}
            assert (await http.post(LOGIN, json=guess)).status_code == 401
        locked = await http.post(LOGIN, json=good)
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["Retry-After"]) <= 60
        assert hasher.verified == 20
        assert throttled("address") - before == 1
        assert (await elsewhere.post(LOGIN, json=good)).status_code == 200


async def test_a_burst_costs_few_hashes_past_the_limit(
    site: tuple[str, Runtime], hasher: CountingHasher
) -> None:
    url, _ = site
    guess = {"email": EMAIL, "password": "one of many guesses"}
    async with client(url) as http:
        answers = await asyncio.gather(*(http.post(LOGIN, json=guess) for _ in range(40)))
    codes = [a.status_code for a in answers]
    assert set(codes) == {401, 429}
    assert codes.count(401) == hasher.verified
    assert 5 <= hasher.verified <= 5 + accounts.CONCURRENT_HASHES - 1


@pytest.mark.parametrize("mode", ["distributed"])
async def test_the_counts_hold_across_processes(settings: Settings) -> None:
    """Two API processes on one Redis (the embedded mode has only one process)."""
    async with AsyncExitStack() as stack:
        one, runtime = await stack.enter_async_context(serving(settings))
        other, _ = await stack.enter_async_context(serving(settings))
        await with_login(runtime)
        first = await stack.enter_async_context(client(one))
        second = await stack.enter_async_context(client(other, "127.0.0.3"))
        for _ in range(5):
            wrong = await first.post(LOGIN, json={"email": EMAIL, "password": "wrong wrong"})
            assert wrong.status_code == 401
        locked = await second.post(LOGIN, json={"email": EMAIL, "password": PASSWORD})
        assert locked.status_code == 429
