"""Helpers for tests of the Twitch collector's parts against the fake Twitch: a clock the
test moves, a sleep that moves it, a token source backed by the fake, and a transport that
fails on purpose."""

from __future__ import annotations

import asyncio

import httpx2

from tests.fakes.twitch import FakeTwitch, Token

BOT = "9001"
BOT_SCOPES = (
    "user:read:chat",
    "user:write:chat",
    "user:bot",
    "user:read:whispers",
    "user:manage:whispers",
    "moderator:manage:shoutouts",
)


class FakeClock:
    """Unix seconds, moved only by the test (or by a sleep that advances it)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class AdvancingSleep:
    """A sleep that moves the clock instead of waiting; records what it was asked for."""

    def __init__(self, clock: FakeClock, *, advance: bool = True) -> None:
        self.clock = clock
        self.advance = advance
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.advance:
            self.clock.advance(seconds)
        await asyncio.sleep(0)


class FakeTokens:
    """A token source handing out tokens the fake issued; ``renew`` issues fresh ones."""

    def __init__(self, twitch: FakeTwitch, client_id: str, scopes: dict[str, tuple[str, ...]]):
        self.twitch = twitch
        self.client_id = client_id
        self.scopes = scopes
        self.app: Token | None = None
        self.users: dict[str, Token] = {}
        self.renewed: list[str] = []

    async def app_token(self, *, renew: bool = False) -> str:
        if renew:
            self.renewed.append("app")
        if renew or self.app is None:
            self.app = self.twitch.issue_app_token(self.client_id)
        return self.app.access_token

    async def user_token(self, account_id: str, *, renew: bool = False) -> str:
        if renew:
            self.renewed.append(account_id)
        if renew or account_id not in self.users:
            self.users[account_id] = self.twitch.issue_user_token(
                self.client_id, account_id, *self.scopes.get(account_id, ())
            )
        return self.users[account_id].access_token


class Flaky(httpx2.AsyncBaseTransport):
    """Real HTTP, except that the next ``fail[path]`` requests to a path answer ``status``."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.fail: dict[str, int] = {}
        self.status = 503

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        left = self.fail.get(request.url.path, 0)
        if left:
            self.fail[request.url.path] = left - 1
            body = {"error": "Failed", "status": self.status, "message": "injected"}
            return httpx2.Response(self.status, json=body)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
