"""``waddlebot secret-key rotate`` on SQLite and PostgreSQL: a Twitch token and a Slack install
saved under an old key still work against the fake platforms once the rotation ran and the
old key is gone, and an API key sealed for Kong still opens; a second run changes nothing; a
token rewritten while the rotation runs is not lost."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest
from sqlalchemy import select, update
from typer.testing import Result

from tests.fakes.slack import FakeSlack
from tests.fakes.twitch import FakeTwitch
from tests.support.cli import invoke
from waddlebot.features import load_models
from waddlebot.features.identity import apikeys
from waddlebot.features.identity.models import ApiKey
from waddlebot.features.music.spotify.accounts import SpotifyStore
from waddlebot.features.music.spotify.client import App
from waddlebot.features.music.spotify.client import Grant as SpotifyGrant
from waddlebot.infra.db import Database
from waddlebot.infra.db.models import Community, PlatformToken
from waddlebot.infra.secret_rotation import rotate_secrets
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.slack.workspaces import Workspaces
from waddlebot.platforms.twitch.auth import Grant, TwitchAuth
from waddlebot.platforms.twitch.tokens import SCOPES, TokenStore

BOT = "9001"
SPOTIFY_COMMUNITY = 7  # a streamer's Spotify app and tokens, sealed under OLD
OLD, NEW = SecretBox.generate_key(), SecretBox.generate_key()


@dataclass
class Stored:
    db: Database
    auth: TwitchAuth
    grant: Grant  # the bot's Twitch tokens, saved under OLD
    slack: FakeSlack
    team_id: str  # a Slack workspace installed under OLD
    api_key: str  # an API key sealed for Kong under OLD (and one made before, not sealed)


@pytest.fixture
async def stored(db_url: str) -> AsyncIterator[Stored]:
    old_box = SecretBox([OLD])
    async with FakeTwitch() as twitch, FakeSlack() as slack, httpx2.AsyncClient() as http:
        client = twitch.register_client()
        twitch.add_user(BOT, "waddlebot", "WaddleBot")
        auth = TwitchAuth(
            http, base_url=twitch.auth_url, client_id=client.client_id, client_secret=client.secret
        )
        issued = twitch.issue_user_token(client.client_id, BOT, *SCOPES["bot"])
        grant = await auth.refresh(issued.refresh_token)
        who = await auth.validate(grant.access_token)
        assert who is not None
        db = Database(db_url)
        await TokenStore(db, old_box, auth).save(grant, who, purpose="bot")
        team = slack.add_team("Acme")
        await Workspaces(db, old_box, api_url=slack.api_url).save(
            team_id=team.id,
            bot_user_id=team.bot_user_id,
            bot_token=team.bot_token,
            scopes=team.scopes,
            community_id=None,
        )
        _, api_key = await apikeys.create_key(db, "for kong", sealer=old_box)
        await apikeys.create_key(db, "before kong")
        async with db.session() as session:
            session.add(Community(id=SPOTIFY_COMMUNITY, name="penguins"))
        spotify = SpotifyStore(db, lambda: old_box)
        await spotify.set_app(SPOTIFY_COMMUNITY, App("spotify-app", "app-secret"))
        await spotify.save_grant(
            SPOTIFY_COMMUNITY, SpotifyGrant("spotify-access", 3600, "spotify-refresh")
        )
        try:
            yield Stored(db, auth, grant, slack, team.id, api_key)
        finally:
            await db.close()


async def rotate(db_url: str, keys: str, *args: str) -> Result:
    env = {"WADDLEBOT_DATABASE_URL": db_url, "WADDLEBOT_SECRET_KEYS": keys}
    # the command runs its own event loop: not on this one
    return await asyncio.to_thread(invoke, ["secret-key", "rotate", *args], env=env)


async def test_after_rotating_the_old_key_can_go(db_url: str, stored: Stored) -> None:
    done = await rotate(db_url, f"{NEW},{OLD}")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines() == [
        "api_keys: 1 re-encrypted, 1 already current",
        "catalogue_modules: 0 re-encrypted, 0 already current",
        "music_spotify_accounts: 1 re-encrypted, 0 already current",
        "overlay_tokens: 0 re-encrypted, 0 already current",
        "platform_tokens: 2 re-encrypted, 0 already current",
    ]
    again = await rotate(db_url, f"{NEW},{OLD}", "--json")
    assert again.exit_code == 0, again.stderr
    assert '"table": "platform_tokens",\n    "rotated": 0,\n    "current": 2' in again.stdout

    new_only = SecretBox([NEW])
    app, refresh, access, _ = await SpotifyStore(stored.db, lambda: new_only).tokens_of(
        SPOTIFY_COMMUNITY
    )
    assert (app.client_secret, refresh, access) == (
        "app-secret",
        "spotify-refresh",
        "spotify-access",
    )
    tokens = TokenStore(stored.db, new_only, stored.auth)
    [status] = await tokens.validate_all()  # the fake Twitch checks the decrypted token
    assert status.status == "ok"
    assert await tokens.access_token(BOT) == stored.grant.access_token
    renewed = await tokens.access_token(BOT, renew=True)  # the refresh token works too
    assert renewed != stored.grant.access_token
    workspace = await Workspaces(stored.db, new_only, api_url=stored.slack.api_url).get(
        stored.team_id
    )
    assert workspace is not None
    assert (await workspace.client.auth_test())["team_id"] == stored.team_id
    async with stored.db.session() as session:
        sealed = await session.scalar(select(ApiKey.key_sealed).where(ApiKey.name == "for kong"))
    assert sealed is not None
    assert new_only.decrypt(sealed) == stored.api_key


async def test_a_secret_no_configured_key_opens_is_reported_and_left(
    db_url: str, stored: Stored
) -> None:
    stranger = SecretBox.generate_key()
    result = await rotate(db_url, f"{NEW},{stranger}")
    assert result.exit_code == 1
    assert "platform_tokens: 0 re-encrypted, 0 already current" in result.stdout
    assert "platform_tokens: 2 no configured key decrypts, left as they are" in result.stderr
    assert await TokenStore(stored.db, SecretBox([OLD]), stored.auth).access_token(BOT) == (
        stored.grant.access_token
    )


class Interrupted(SecretBox):
    """Rotating the first value, a process still on the old key writes a fresh Twitch token
    (a refresh) between the rotation's read and its update."""

    def __init__(self, keys: list[str], db_url: str, fresh: str) -> None:
        super().__init__(keys)
        self._db_url, self._fresh, self.interrupted = db_url, fresh, False

    def rotate(self, sealed: str) -> str:
        if not self.interrupted:
            self.interrupted = True
            with concurrent.futures.ThreadPoolExecutor(1) as other:  # another process
                other.submit(asyncio.run, self._refresh()).result()
        return super().rotate(sealed)

    async def _refresh(self) -> None:
        db = Database(self._db_url)
        try:
            async with db.session() as session:
                await session.execute(
                    update(PlatformToken)
                    .where(PlatformToken.account_id == BOT)
                    .values(access_token=SecretBox([OLD]).encrypt(self._fresh))
                )
        finally:
            await db.close()


async def test_a_token_written_during_the_rotation_is_not_lost(db_url: str, stored: Stored) -> None:
    box = Interrupted([NEW, OLD], db_url, "fresh-access-token")
    *_, platform = await rotate_secrets(stored.db, box, load_models())
    assert box.interrupted
    assert (platform.rotated, platform.unreadable, platform.busy) == (2, [], [])
    async with stored.db.session() as session:
        sealed = await session.scalar(
            select(PlatformToken.access_token).where(PlatformToken.account_id == BOT)
        )
    assert sealed is not None
    assert SecretBox([NEW]).decrypt(sealed) == "fresh-access-token"
