"""The identity feature: one person across platforms, API keys and logins."""

from __future__ import annotations

from waddlebot.features.feature import Feature, Host, PersonMerge, Route
from waddlebot.features.identity import api, portal
from waddlebot.features.identity.accounts import AccountService
from waddlebot.features.identity.apikeys import KeyVerifier
from waddlebot.features.identity.models import Account, ApiKey, LinkCode
from waddlebot.features.identity.module import build_identity_module
from waddlebot.features.identity.oauth_signin import OAuthSignIn, sign_in_apps
from waddlebot.features.identity.principals import KeyAuthenticator
from waddlebot.features.identity.service import IdentityService, merge_accounts, merge_memberships
from waddlebot.features.identity.settings import IdentitySettings
from waddlebot.features.identity.signin_links import SignInLinks
from waddlebot.features.shared import (
    ACCOUNTS,
    DIRECTORY,
    IDENTITY,
    KEY_SEALER,
    KEYS,
    OAUTH_SIGNIN,
    SIGNIN_LINKS,
)
from waddlebot.infra.db.models import Identity, Membership
from waddlebot.web.auth import AUTHENTICATOR

PLATFORM_ID = "a platform's id of an account, not a WaddleBot user"


async def setup(host: Host) -> None:
    cache = host.ports.cache
    keys = host.provide(KEYS, KeyVerifier(host.db, ttl=host.settings.api_key_cache_seconds))
    identity = host.provide(
        IDENTITY,
        IdentityService(
            host.db,
            cache,
            host.audit,
            host.need(DIRECTORY),
            feed=host.feed,
            sealer=host.find(KEY_SEALER),
        ),
    )
    accounts = host.provide(
        ACCOUNTS, AccountService(host.db, cache, host.audit, host.ports.ratelimiter)
    )
    host.provide(AUTHENTICATOR, KeyAuthenticator(keys, accounts))
    links = host.provide(SIGNIN_LINKS, SignInLinks(cache))
    portal_url = host.settings.public_base_url(
        host.settings.section(IdentitySettings).portal_public_url
    )
    host.provide(
        OAUTH_SIGNIN,
        OAuthSignIn(
            sign_in_apps(host.settings),
            settings=host.settings,
            cache_=cache,
            person_of=identity.person_of,
            portal_url=portal_url,
        ),
    )
    host.add_module(
        build_identity_module(identity, host.direct_message_platforms, links, portal_url)
    )


FEATURE = Feature(
    "identity",
    setup,
    routes=(Route(api.router), Route(api.login_router), Route(portal.router, service="portal")),
    person_columns=(Identity.user_id, ApiKey.user_id, LinkCode.user_id),
    person_merges=(
        PersonMerge((Membership.user_id,), merge_memberships),
        PersonMerge((Account.user_id,), merge_accounts),
    ),
    kept_columns=(
        (Identity.platform_user_id, PLATFORM_ID),
        (LinkCode.platform_user_id, PLATFORM_ID),
    ),
    settings=IdentitySettings,
)
