"""Twitch tokens kept by WaddleBot, against the fake Twitch's OAuth endpoints on SQLite and
PostgreSQL: encrypted at rest, refreshed before they expire, validated (and marked invalid
when nothing saves them), missing scopes reported."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx2
import pytest
from sqlalchemy import select

from tests.fakes.twitch import FakeTwitch
from tests.support.twitch import Flaky
from waddlebot.core.clock import ManualClock
from waddlebot.infra.db import Database
from waddlebot.infra.db.models import PlatformToken
from waddlebot.infra.secretbox import SecretBox, SecretError
from waddlebot.platforms.twitch.auth import TwitchAuth, TwitchAuthError
from waddlebot.platforms.twitch.tokens import SCOPES, TokenStore, TokenUnavailable

BOT = "9001"


@dataclass
class Kit:
    twitch: FakeTwitch
    auth: TwitchAuth
    store: TokenStore
    box: SecretBox
    db: Database
    clock: ManualClock
    flaky: Flaky


@pytest.fixture
async def kit(db_url: str) -> AsyncIterator[Kit]:
    flaky = Flaky()
    async with FakeTwitch() as twitch, httpx2.AsyncClient(transport=flaky) as http:
        client = twitch.register_client()
        twitch.add_user(BOT, "waddlebot", "WaddleBot")
        auth = TwitchAuth(
            http, base_url=twitch.auth_url, client_id=client.client_id, client_secret=client.secret
        )
        db = Database(db_url)
        box = SecretBox([SecretBox.generate_key()])
        clock = ManualClock()
        try:
            yield Kit(twitch, auth, TokenStore(db, box, auth, clock), box, db, clock, flaky)
        finally:
            await db.close()


async def _connect_bot(kit: Kit, *scopes: str) -> str:
    """The bot account as it comes out of the OAuth flow; returns its first access token."""
    client_id = kit.auth.client_id
    token = kit.twitch.issue_user_token(client_id, BOT, *(scopes or SCOPES["bot"]))
    grant = await kit.auth.refresh(token.refresh_token)
    who = await kit.auth.validate(grant.access_token)
    assert who is not None and who.user_id == BOT
    await kit.store.save(grant, who, purpose="bot")
    return grant.access_token


async def test_tokens_are_encrypted_at_rest(kit: Kit) -> None:
    access = await _connect_bot(kit)
    async with kit.db.session() as session:
        row = await session.scalar(select(PlatformToken))
    assert row is not None
    assert access not in (row.access_token, row.refresh_token)
    assert kit.box.decrypt(row.access_token) == access
    with pytest.raises(SecretError):
        SecretBox([SecretBox.generate_key()]).decrypt(row.access_token)
    assert await kit.store.access_token(BOT) == access


async def test_a_token_is_refreshed_before_it_expires(kit: Kit) -> None:
    first = await _connect_bot(kit)
    kit.clock.advance(seconds=14_400 - 60)  # the fake's user tokens live 4 hours
    second = await kit.store.access_token(BOT)
    assert second != first
    assert (await kit.auth.validate(second)) is not None
    assert await kit.store.access_token(BOT) == second  # fresh now: no second refresh


async def test_validation_refreshes_a_dead_token_and_gives_up_on_a_dead_account(kit: Kit) -> None:
    first = await _connect_bot(kit)
    kit.twitch.expire(first)
    before = kit.twitch.validate_calls
    (status,) = await kit.store.validate_all()
    assert status.status == "ok" and kit.twitch.validate_calls > before
    assert await kit.store.access_token(BOT) != first
    await kit.twitch.disconnect_app(kit.auth.client_id, BOT)  # the account took it back
    (status,) = await kit.store.validate_all()
    assert status.status == "invalid"
    with pytest.raises(TokenUnavailable):
        await kit.store.access_token(BOT)


async def test_missing_scopes_are_reported(kit: Kit) -> None:
    await _connect_bot(kit, "user:read:chat", "user:write:chat")
    bot = await kit.store.bot()
    assert bot is not None and not bot.healthy
    assert "user:bot" in bot.missing_scopes and "user:write:chat" not in bot.missing_scopes
    assert bot.expires_at is not None and bot.expires_at - kit.clock.now() <= timedelta(hours=4)


async def test_a_bad_client_secret_is_a_clear_error(kit: Kit) -> None:
    async with httpx2.AsyncClient() as http:
        wrong = TwitchAuth(
            http, base_url=kit.twitch.auth_url, client_id=kit.auth.client_id, client_secret="nope"
        )
        with pytest.raises(TwitchAuthError) as refused:
            await wrong.app_token()
    assert refused.value.status in (400, 403)


async def test_an_outage_of_the_token_endpoint_keeps_the_token(kit: Kit) -> None:
    first = await _connect_bot(kit)
    kit.clock.advance(seconds=14_400 - 60)  # due for a refresh
    kit.flaky.fail["/oauth2/token"] = 1  # Twitch answers 503 once
    with pytest.raises(TokenUnavailable) as failed:
        await kit.store.access_token(BOT)
    assert failed.value.transient
    (status,) = await kit.store.statuses()
    assert status.status == "ok"
    assert await kit.store.access_token(BOT) != first  # refreshed once Twitch is back


async def test_concurrent_users_of_a_due_token_refresh_it_once(kit: Kit) -> None:
    await _connect_bot(kit)
    kit.clock.advance(seconds=14_400 - 60)
    tokens = await asyncio.gather(*(kit.store.access_token(BOT) for _ in range(5)))
    assert len(set(tokens)) == 1


async def test_connecting_another_bot_account_replaces_the_first(kit: Kit) -> None:
    await _connect_bot(kit)
    kit.twitch.add_user("9002", "newbot", "NewBot")
    token = kit.twitch.issue_user_token(kit.auth.client_id, "9002", *SCOPES["both"])
    grant = await kit.auth.refresh(token.refresh_token)
    who = await kit.auth.validate(grant.access_token)
    assert who is not None
    await kit.store.save(grant, who, purpose="both", community_id=None)
    bot = await kit.store.bot()
    assert bot is not None and (bot.account_id, bot.login) == ("9002", "newbot")
    assert [s.account_id for s in await kit.store.statuses()] == ["9002"]
    assert [b.account_id for b in await kit.store.broadcasters()] == ["9002"]
