"""Who an MCP request runs as: the :class:`~waddlebot.core.tools.Caller` a presented key
stands for in one community, and the features that community switched off.

The community is the one asked for (``?community=<id>`` over HTTP, ``--community`` on stdio);
without one, the community a service key is bound to, or the only community a person has a
role in. The caller's level is their role's (as the HTTP API's: member 100 … owner 1500; a
service account is an owner), and a key with the read scope only may not write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from waddlebot.core.permissions import Level
from waddlebot.core.tools import Caller, Toolbox
from waddlebot.features.shared import MODULE_VIEWS
from waddlebot.infra.db.models import Membership
from waddlebot.router.views import view_of
from waddlebot.web.access import Principal
from waddlebot.web.deps import ROLE_LEVELS, authenticate
from waddlebot.web.host import ApiHost


class CallerRefused(Exception):
    """The key may not act in the community asked for, or no community was said; the
    message says what to do."""


class KeyRefused(CallerRefused):
    """No key, or not a valid one."""


@dataclass(frozen=True, slots=True)
class Asking:
    """Who a request runs as, and the features switched off in their community."""

    caller: Caller
    off: Sequence[str]


async def asking(host: ApiHost, tools: Toolbox, key: str, community: int | None) -> Asking:
    """Who presenting ``key`` asks, in the community asked for (or the one implied)."""
    principal = await authenticate(host, key)
    if principal is None:
        raise KeyRefused("a valid API key is required (Authorization: Bearer <key> or X-API-Key)")
    caller = await caller_for(host, principal, community)
    return Asking(caller, await switched_off(host, tools, caller.community_id))


async def _communities_of(host: ApiHost, user_id: int) -> list[int]:
    async with host.db.read_session() as session:
        found = await session.scalars(
            select(Membership.community_id).where(Membership.user_id == user_id).limit(2)
        )
        return list(found)


async def community_for(host: ApiHost, principal: Principal, asked: int | None) -> int:
    if asked is not None:
        return asked
    if principal.community_id is not None:
        return principal.community_id
    if principal.kind == "user" and principal.user_id is not None:
        communities = await _communities_of(host, principal.user_id)
        if len(communities) == 1:
            return communities[0]
    raise CallerRefused("say which community: ?community=<id> over HTTP, --community <id> on stdio")


async def caller_for(host: ApiHost, principal: Principal, asked: int | None) -> Caller:
    """The caller ``principal`` is in the community asked for (see the module's docstring)."""
    community_id = await community_for(host, principal, asked)
    role = await host.access.role_in(principal, community_id)
    if role is None:
        raise CallerRefused(f"this key has no role in community {community_id}")
    if principal.kind == "service":
        if not await host.access.community_exists(community_id):
            raise CallerRefused(f"there is no community {community_id}")
        return Caller(community_id, None, int(Level.OWNER), not principal.read_only)
    return Caller(community_id, principal.user_id, int(ROLE_LEVELS[role]), not principal.read_only)


async def switched_off(host: ApiHost, tools: Toolbox, community_id: int) -> list[str]:
    """The features of ``tools`` whose module the community switched off."""
    view = await view_of(host.find(MODULE_VIEWS), community_id)
    return sorted(tools.features_off(view.enabled))
