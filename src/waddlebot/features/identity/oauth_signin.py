"""Signing in to the portal with a Twitch, Discord or Slack account (OAuth 2 authorization
code flow), through the platform app the bot already has (the collectors' client id and
secret). Only what names the account is asked for: Twitch no scope at all (Helix ``/users``
with the token says whose it is), Discord ``identify``, Slack OpenID Connect
``openid profile``.

The account signs in the WaddleBot person it belongs to (a linked identity on another
platform is the same person). An account the bot has never seen is refused, not made into a
new person: a person comes into being where the bot meets them (chat), and the page tells
them to type ``!portal`` there or link the account first. A sign-in with no role anywhere
would open an empty portal anyway.

The ``state`` is sealed, single-use and bound to the browser by a cookie, as the collectors'
connect flows (:class:`~waddlebot.platforms.oauth_tickets.OAuthTickets`, whose ticket here is
made and turned into a state at once).

The HTTP side is authlib's generic OAuth 2 client for httpx2
(``authlib.integrations.httpx_client.AsyncOAuth2Client``, an ``httpx2.AsyncClient``: the
project's one HTTP stack, no ``httpx`` pulled in). Its Starlette integration is not used: it
keeps the state in Starlette's ``SessionMiddleware`` session, which the portal does not run
(its sessions live in the cache) and which would not bind the state to one use. A client
lives for one sign-in: sign-ins are rare, and each carries its own token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx2
import structlog
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from waddlebot.core.settings import CoreSettings
from waddlebot.infra.ports import Cache
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.discord.settings import DiscordSettings
from waddlebot.platforms.oauth_tickets import ConnectError, OAuthTickets
from waddlebot.platforms.slack.settings import SlackSettings
from waddlebot.platforms.twitch.settings import TwitchSettings

log = structlog.get_logger("waddlebot.portal.signin")

CALLBACK = "/login/{platform}/callback"
DISCORD_API = "https://discord.com/api/v10"
HTTP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Account:
    """A platform account as the platform names it."""

    platform_user_id: str
    name: str


WhoIs = Callable[[AsyncOAuth2Client], Awaitable[Account]]


@dataclass(frozen=True, slots=True)
class SignInApp:
    """A platform's app, as far as signing in with it goes."""

    platform: str  # the identities' platform name, and the path: /login/<platform>
    label: str
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    scope: str
    who_is: WhoIs


class UnknownAccount(Exception):
    """The platform account belongs to nobody the bot knows."""

    def __init__(self, app: SignInApp, account: Account) -> None:
        super().__init__(f"{app.label} account {account.name} is not known")
        self.app = app
        self.account = account


def _json(response: httpx2.Response) -> dict[str, Any]:
    response.raise_for_status()
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError("the platform's answer is not an object")
    return body


def _twitch(settings: CoreSettings) -> SignInApp | None:
    own = settings.section(TwitchSettings)
    if not (own.twitch_client_id and own.twitch_client_secret.get_secret_value()):
        return None
    helix = own.twitch_helix_url.rstrip("/")

    async def who_is(client: AsyncOAuth2Client) -> Account:
        found = _json(
            await client.get(f"{helix}/users", headers={"Client-Id": own.twitch_client_id})
        )
        user = (found.get("data") or [{}])[0]
        return Account(
            str(user.get("id") or ""), str(user.get("display_name") or user.get("login") or "")
        )

    auth = own.twitch_auth_url.rstrip("/")
    return SignInApp(
        "twitch",
        "Twitch",
        own.twitch_client_id,
        own.twitch_client_secret.get_secret_value(),
        f"{auth}/authorize",
        f"{auth}/token",
        "",
        who_is,
    )


def _discord(settings: CoreSettings) -> SignInApp | None:
    own = settings.section(DiscordSettings)
    if not (own.discord_application_id and own.discord_client_secret.get_secret_value()):
        return None
    api = (own.discord_api_url or DISCORD_API).rstrip("/")

    async def who_is(client: AsyncOAuth2Client) -> Account:
        user = _json(await client.get(f"{api}/users/@me"))
        name = user.get("global_name") or user.get("username") or ""
        return Account(str(user.get("id") or ""), str(name))

    return SignInApp(
        "discord",
        "Discord",
        own.discord_application_id,
        own.discord_client_secret.get_secret_value(),
        own.discord_authorize_url,
        f"{api}/oauth2/token",
        "identify",
        who_is,
    )


def _slack(settings: CoreSettings) -> SignInApp | None:
    own = settings.section(SlackSettings)
    if not (own.slack_client_id and own.slack_client_secret.get_secret_value()):
        return None
    api = own.slack_api_url.rstrip("/")

    async def who_is(client: AsyncOAuth2Client) -> Account:
        claims = _json(await client.get(f"{api}/openid.connect.userInfo"))
        if not claims.get("ok"):
            raise ValueError(f"Slack said {claims.get('error')}")
        user_id = claims.get("https://slack.com/user_id") or ""
        return Account(str(user_id), str(claims.get("name") or user_id))

    return SignInApp(
        "slack",
        "Slack",
        own.slack_client_id,
        own.slack_client_secret.get_secret_value(),
        own.slack_openid_url,
        f"{api}/openid.connect.token",
        "openid profile",
        who_is,
    )


def sign_in_apps(settings: CoreSettings) -> dict[str, SignInApp]:
    """The platforms whose app is configured (a client id and its secret), by name."""
    found = (make(settings) for make in (_twitch, _discord, _slack))
    return {app.platform: app for app in found if app is not None}


@dataclass(frozen=True, slots=True)
class SignedIn:
    user_id: int
    account: Account
    next: str


PersonOf = Callable[[str, str], Awaitable[int | None]]


class OAuthSignIn:
    def __init__(
        self,
        apps: dict[str, SignInApp],
        *,
        settings: CoreSettings,
        cache_: Cache,
        person_of: PersonOf,
        portal_url: str,
    ) -> None:
        self.apps = apps
        self._box = cache(lambda: SecretBox.from_settings(settings))
        self._cache = cache_
        self._person_of = person_of
        self._portal = portal_url.rstrip("/")

    def _tickets(self) -> OAuthTickets:
        return OAuthTickets(self._box(), self._cache, "portal-signin")

    def redirect_uri(self, platform: str) -> str:
        """What to register as the app's redirect URL (beside the collectors' own)."""
        return self._portal + CALLBACK.format(platform=platform)

    def _client(self, app: SignInApp, token: dict[str, Any] | None = None) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=app.client_id,
            client_secret=app.client_secret,
            # every one of the three takes the secret in the form; Twitch only there
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method's name
            scope=app.scope or None,
            redirect_uri=self.redirect_uri(app.platform),
            token=token,
            timeout=HTTP_TIMEOUT,
        )

    async def authorize_url(self, app: SignInApp, browser: str, next_: str) -> str:
        """Where to send the browser (``browser``: the secret its cookie keeps)."""
        tickets = self._tickets()
        state, _ = tickets.state_for(tickets.ticket({"p": app.platform, "to": next_}), browser)
        async with self._client(app) as client:
            url, _ = client.create_authorization_url(app.authorize_url, state=state)
        return str(url)

    async def complete(self, app: SignInApp, code: str, state: str, browser: str) -> SignedIn:
        """The person the account signs in; :class:`ConnectError` for a state that is forged,
        used, expired or another browser's, or a code the platform refuses;
        :class:`UnknownAccount` for an account of nobody the bot knows."""
        grant = await self._tickets().redeem(state, browser)
        if grant.get("p") != app.platform:
            raise ConnectError("this sign-in was started for another platform; start again")
        try:
            async with self._client(app) as client:
                await client.fetch_token(app.token_url, code=code)
                account = await app.who_is(client)
        except (OAuthError, httpx2.HTTPError, ValueError, KeyError) as exc:
            log.warning("oauth sign-in refused", platform=app.platform, error=type(exc).__name__)
            raise ConnectError(
                f"{app.label} did not confirm the sign-in; start again in a moment"
            ) from exc
        if not account.platform_user_id:
            raise ConnectError(f"{app.label} did not say whose account this is; start again")
        user_id = await self._person_of(app.platform, account.platform_user_id)
        if user_id is None:
            raise UnknownAccount(app, account)
        return SignedIn(user_id, account, str(grant.get("to") or "/"))
