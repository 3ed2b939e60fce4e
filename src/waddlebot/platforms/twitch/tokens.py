"""The user tokens WaddleBot holds for Twitch accounts: the bot's own account, and each
broadcaster who connected a channel. Encrypted at rest, refreshed before they expire,
validated hourly as Twitch requires, and checked for the scopes each purpose needs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx2
import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import PlatformToken
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.twitch.auth import Grant, TwitchAuth, TwitchAuthError, Validation

log = structlog.get_logger("waddlebot.twitch.tokens")

PLATFORM = "twitch"
REFRESH_MARGIN = timedelta(minutes=5)  # refresh a token this long before it expires
REFUSED = frozenset({400, 401, 403})  # what the token endpoint says to a dead refresh token
SCOPES: dict[str, tuple[str, ...]] = {
    # the bot's account: reads and writes chat, whispers, shouts out (as a moderator)
    "bot": (
        "user:read:chat",
        "user:write:chat",
        "user:bot",
        "user:read:whispers",
        "user:manage:whispers",
        "moderator:manage:shoutouts",
    ),
    # a broadcaster: lets the bot into the chat and shares the channel's events
    "broadcaster": (
        "channel:bot",
        "channel:read:subscriptions",
        "bits:read",
        "moderator:read:followers",
        "moderator:manage:shoutouts",
    ),
}
# the streamer's own account as the bot too
SCOPES["both"] = tuple(dict.fromkeys(SCOPES["bot"] + SCOPES["broadcaster"]))
BOT_PURPOSES = frozenset({"bot", "both"})
BROADCASTER_PURPOSES = frozenset({"broadcaster", "both"})


class TokenUnavailable(Exception):
    """No usable token for that account: never connected, revoked, or refresh refused
    (``transient``: Twitch's token endpoint failed for now, try again later)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True, slots=True)
class TokenStatus:
    account_id: str
    login: str
    purpose: str
    community_id: int | None
    scopes: tuple[str, ...]
    missing_scopes: tuple[str, ...]
    expires_at: datetime | None
    validated_at: datetime | None
    status: str

    @property
    def healthy(self) -> bool:
        return self.status == "ok" and not self.missing_scopes


class TokenStore:
    def __init__(
        self, db: Database, box: SecretBox, auth: TwitchAuth, clock: Clock | None = None
    ) -> None:
        self._db = db
        self._box = box
        self._auth = auth
        self._clock = clock or SystemClock()
        self._locks: dict[str, asyncio.Lock] = {}

    async def save(
        self,
        grant: Grant,
        who: Validation,
        *,
        purpose: str,
        community_id: int | None = None,
    ) -> TokenStatus:
        """Keep the tokens of an account that just authorised WaddleBot (replacing older
        ones of the same account)."""
        if purpose not in SCOPES:
            raise ValueError(f"unknown token purpose {purpose!r}")
        now = self._clock.now()
        async with self._db.session() as session:
            if purpose in BOT_PURPOSES:
                await _retire_other_bots(session, who.user_id)
            row = await session.scalar(_row(who.user_id))
            if row is None:
                row = PlatformToken(platform=PLATFORM, account_id=who.user_id, purpose=purpose)
                session.add(row)
            elif row.purpose != purpose:
                log.warning(
                    "twitch account connected for another purpose",
                    account=who.user_id,
                    was=row.purpose,
                    now=purpose,
                )
            row.login = who.login
            row.purpose = purpose
            if community_id is not None:
                row.community_id = community_id
            row.access_token = self._box.encrypt(grant.access_token)
            row.refresh_token = self._box.encrypt(grant.refresh_token)
            row.scopes = list(grant.scopes or who.scopes)
            row.expires_at = now + timedelta(seconds=grant.expires_in)
            row.validated_at = now
            row.status = "ok"
            await session.flush()
            status = _status(row)
        log.info(
            "twitch token saved",
            account=who.user_id,
            login=who.login,
            purpose=purpose,
            missing_scopes=list(status.missing_scopes),
        )
        return status

    async def access_token(self, account_id: str, *, renew: bool = False) -> str:
        """A usable access token for the account, refreshed first when it is about to expire
        (or ``renew``: Twitch just refused it)."""
        async with self._db.read_session() as session:
            row = await session.scalar(_row(account_id))
            if row is not None and row.status == "ok" and not (renew or self._due(row)):
                return self._box.decrypt(row.access_token)
        # one refresh at a time: per account in this process, under the row's lock across
        # processes; whoever waited finds the token fresh and uses it
        async with self._locks.setdefault(account_id, asyncio.Lock()):
            refused: TokenUnavailable | None = None
            async with self._db.session() as session:
                row = await session.scalar(
                    _row(account_id).with_for_update().execution_options(populate_existing=True)
                )
                if row is None or row.status != "ok":
                    raise TokenUnavailable(f"no usable Twitch token for account {account_id}")
                if not (renew or self._due(row)):
                    return self._box.decrypt(row.access_token)
                try:
                    return await self._refresh(row)
                except TokenUnavailable as exc:
                    if exc.transient:
                        raise
                    refused = exc  # leave the block normally, so "invalid" is saved
            raise refused

    def _due(self, row: PlatformToken) -> bool:
        return row.expires_at is None or row.expires_at - REFRESH_MARGIN <= self._clock.now()

    async def _refresh(self, row: PlatformToken) -> str:
        try:
            grant = await self._auth.refresh(self._box.decrypt(row.refresh_token))
        except (TwitchAuthError, httpx2.TransportError) as exc:
            status = exc.status if isinstance(exc, TwitchAuthError) else None
            if status not in REFUSED:  # an outage, not a verdict: keep the token
                log.warning("twitch token refresh failed for now", account=row.account_id)
                raise TokenUnavailable(
                    f"Twitch could not refresh account {row.account_id} now", transient=True
                ) from exc
            row.status = "invalid"
            log.error(
                "twitch token refresh refused; the account must connect again",
                account=row.account_id,
                login=row.login,
                status=status,
            )
            raise TokenUnavailable(f"Twitch refused to refresh account {row.account_id}") from exc
        row.access_token = self._box.encrypt(grant.access_token)
        if grant.refresh_token:
            row.refresh_token = self._box.encrypt(grant.refresh_token)
        if grant.scopes:
            row.scopes = list(grant.scopes)
        row.expires_at = self._clock.now() + timedelta(seconds=grant.expires_in)
        log.info("twitch token refreshed", account=row.account_id)
        return grant.access_token

    async def validate_all(self) -> list[TokenStatus]:
        """Validate every token (Twitch asks for this hourly); a refused one is refreshed,
        and marked invalid when that fails too. An account Twitch cannot be asked about now
        is left as it is (and logged), and the others are still checked."""
        for account_id in await self._accounts():
            try:
                await self._validate(account_id)
            except (TwitchAuthError, httpx2.TransportError) as exc:
                log.warning(
                    "twitch token not validated this time", account=account_id, error=str(exc)
                )
        return await self.statuses()

    async def _validate(self, account_id: str) -> None:
        async with self._db.session() as session:
            row = await session.scalar(_row(account_id))
            if row is None or row.status != "ok":
                return
            found = await self._auth.validate(self._box.decrypt(row.access_token))
            if found is None:
                try:
                    await self._refresh(row)
                except TokenUnavailable as exc:
                    if exc.transient:
                        raise TwitchAuthError(503, str(exc)) from exc
                    return  # marked invalid; committed as the block ends
                found = await self._auth.validate(self._box.decrypt(row.access_token))
            if found is None:
                row.status = "invalid"
                return
            row.scopes = list(found.scopes)
            row.validated_at = self._clock.now()

    async def statuses(self) -> list[TokenStatus]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(PlatformToken)
                .where(PlatformToken.platform == PLATFORM)
                .order_by(PlatformToken.purpose, PlatformToken.login)
            )
            return [_status(row) for row in rows]

    async def bot(self) -> TokenStatus | None:
        return next((s for s in await self.statuses() if s.purpose in BOT_PURPOSES), None)

    async def broadcasters(self) -> list[TokenStatus]:
        return [s for s in await self.statuses() if s.purpose in BROADCASTER_PURPOSES]

    async def _accounts(self) -> Sequence[str]:
        async with self._db.session() as session:
            found = await session.scalars(
                select(PlatformToken.account_id).where(PlatformToken.platform == PLATFORM)
            )
            return list(found)


async def _retire_other_bots(session: AsyncSession, account_id: str) -> None:
    """There is one bot account: another one connected before is the bot no more (an
    account that was also a broadcaster stays one)."""
    others = await session.scalars(
        select(PlatformToken).where(
            PlatformToken.platform == PLATFORM,
            PlatformToken.account_id != account_id,
            PlatformToken.purpose.in_(BOT_PURPOSES),
        )
    )
    for other in others:
        log.warning("twitch bot account replaced", was=other.account_id, login=other.login)
        if other.purpose == "both":
            other.purpose = "broadcaster"
        else:
            await session.delete(other)


def _row(account_id: str) -> Select[PlatformToken]:
    return select(PlatformToken).where(
        PlatformToken.platform == PLATFORM, PlatformToken.account_id == account_id
    )


def _status(row: PlatformToken) -> TokenStatus:
    scopes = tuple(row.scopes or ())
    return TokenStatus(
        account_id=row.account_id,
        login=row.login,
        purpose=row.purpose,
        community_id=row.community_id,
        scopes=scopes,
        missing_scopes=tuple(s for s in SCOPES.get(row.purpose, ()) if s not in scopes),
        expires_at=row.expires_at,
        validated_at=row.validated_at,
        status=row.status,
    )
