"""A whole WaddleBot over HTTP with two communities (``a`` and ``b``) and keys to call its API
with: the operator's service key, an admin's and a moderator's of community ``a``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx2

from tests.support.harness import serving
from waddlebot.features.identity import apikeys
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings


@dataclass
class Api:
    http: httpx2.AsyncClient
    runtime: Runtime
    service: dict[str, str]
    admin_a: dict[str, str]
    moderator_a: dict[str, str]
    a: int
    b: int


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@asynccontextmanager
async def community_api(settings: Settings) -> AsyncIterator[Api]:
    async with (
        serving(settings) as (url, runtime),
        httpx2.AsyncClient(base_url=url) as http,
    ):
        directory = runtime.directory
        a = (await directory.resolve_entity("twitch:100", "twitch")).community_id
        b = (await directory.resolve_entity("twitch:200", "twitch")).community_id
        admin = await directory.ensure_identity("twitch", "1", login="ada")
        moderator = await directory.ensure_identity("twitch", "2", login="mo")
        await directory.set_role(a, admin, "admin")
        await directory.set_role(a, moderator, "moderator")
        _, service = await apikeys.create_key(runtime.db, "service")
        _, admin_key = await apikeys.create_key(runtime.db, "ada", kind="user", user_id=admin)
        _, mod_key = await apikeys.create_key(runtime.db, "mo", kind="user", user_id=moderator)
        yield Api(http, runtime, bearer(service), bearer(admin_key), bearer(mod_key), a, b)
