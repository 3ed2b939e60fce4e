"""Request dependencies: who is calling, and what they may do."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, WebSocket, status
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import select

from waddlebot.core.errors import NotAllowed, NotFound, UnknownPerson, UserError
from waddlebot.core.permissions import Level
from waddlebot.core.services import Key
from waddlebot.infra.db.models import Identity, User
from waddlebot.infra.host import ProcessHost
from waddlebot.web.access import ROLE_RANK, AccessDenied, Principal, Role
from waddlebot.web.auth import AUTHENTICATOR
from waddlebot.web.host import ApiHost, Running, api_host
from waddlebot.web.numbers import Id

SESSION_COOKIE = "waddlebot_session"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# the key given in WADDLEBOT_API_KEY (for deployments that inject one secret everywhere)
ENV_PRINCIPAL = Principal(kind="service", name="WADDLEBOT_API_KEY", key_id="env")
ROLE_LEVELS: dict[str, Level] = {
    "owner": Level.OWNER,
    "admin": Level.ADMIN,
    "moderator": Level.MODERATOR,
    "member": Level.EVERYONE,
}


def needs(key: Key[Any]) -> Any:
    """A dependency on the service under ``key``, for a typed parameter:
    ``Labels = Annotated[LabelService, needs(LABELS)]``."""

    def dependency(request: Request) -> Any:
        return api_host(request).need(key)

    return Depends(dependency)


def presented_key(headers: Mapping[str, str]) -> str:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    auth = headers.get("authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return (headers.get("x-api-key") or "").strip()


async def authenticate(host: ApiHost, key: str) -> Principal | None:
    if not key:
        return None
    static = host.settings.api_key.get_secret_value()
    if static and hmac.compare_digest(static.encode(), key.encode()):
        return ENV_PRINCIPAL
    authenticator = host.find(AUTHENTICATOR)
    return None if authenticator is None else await authenticator.principal(key)


# How a key is sent, for the OpenAPI document (Swagger UI's Authorize, generated clients): each
# of the three is enough. What they read, ``presented_key`` reads once for every kind of
# request (WebSockets and the audit of refusals too), so their values go unused.
BEARER = HTTPBearer(
    scheme_name="bearer",
    description="an API key (wbk_...) or a portal session token (wbs_...)",
    auto_error=False,
)
API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key",
    scheme_name="apiKey",
    description="an API key or session token, instead of Authorization",
    auto_error=False,
)
SESSION = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="session",
    description="the session cookie POST /api/v1/identity/login sets",
    auto_error=False,
)


async def get_principal(
    request: Request,
    host: Running,
    _bearer: object = Security(BEARER),
    _header: object = Security(API_KEY_HEADER),
    _cookie: object = Security(SESSION),
) -> Principal:
    key = presented_key(request.headers) or request.cookies.get(SESSION_COOKIE, "")
    principal = await authenticate(host, key)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid API key is required (Authorization: Bearer <key> or X-API-Key)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.principal = principal  # for the audit of a refusal (web/refusals.py)
    if principal.read_only and request.method not in READ_METHODS:
        raise NotAllowed("this key may only read (scope: read)")
    return principal


async def require_service(principal: Principal = Depends(get_principal)) -> Principal:
    """Endpoints that act for any community or any person (events in, the console): only
    WaddleBot's own services may call them."""
    if not principal.is_global_service:
        raise NotAllowed("this needs a service API key without a community")
    return principal


@dataclass(frozen=True, slots=True)
class PersonCalling:
    """A person's key or portal session (not a service account's), and what the audit log
    calls them."""

    principal: Principal
    user_id: int
    actor: str


async def person_calling(
    request: Request, principal: Principal = Depends(get_principal)
) -> PersonCalling:
    """The caller, when they are a person (403 for a service account)."""
    if principal.kind != "user" or principal.user_id is None:
        raise NotAllowed("this needs a person's key or session")
    return PersonCalling(principal, principal.user_id, actor_of(principal, request))


Person = Annotated[PersonCalling, Depends(person_calling)]


CommunityId = Id


async def community_role(
    host: ApiHost, principal: Principal, community_id: int, role: Role
) -> Role:
    """The caller's role in the community, when it is at least ``role``; 403 otherwise.

    A service account is the owner of every community in its scope, even of one that does
    not exist: it is told 404 for those, before anything tries to write to them. (A person's
    role means the community exists; communities are never deleted.) Callers without the
    role get the 403 first, so the 404 tells nobody else which communities exist."""
    try:
        held = await host.access.require(principal, community_id, role)
    except AccessDenied as exc:
        raise NotAllowed(str(exc)) from exc
    if principal.kind == "service" and not await host.access.community_exists(community_id):
        raise NotFound(f"there is no community {community_id}")
    return held


def actor_of(principal: Principal, request: Request) -> str:
    """Who, and from where, for the audit log."""
    host = request.client.host if request.client else "unknown"
    return f"{principal.actor}@{host}"


def level_of(principal: Principal, role: Role) -> int | None:
    """The permission level a caller acts with (None: a service account, unrestricted)."""
    if principal.kind == "service":
        return None
    return int(ROLE_LEVELS[role])


# ----- who is calling, in a community -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommunityCaller:
    """The principal, their role in the community, and what the audit log calls them."""

    principal: Principal
    community_id: int
    role: Role
    actor: str

    @property
    def level(self) -> int | None:
        """The level they act with: None for a service account (unrestricted)."""
        return level_of(self.principal, self.role)

    @property
    def moderator(self) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK["moderator"]

    @property
    def user_id(self) -> int | None:
        return self.principal.user_id if self.principal.kind == "user" else None


class HasRole:
    """A dependency: the caller, when their role in ``{community_id}`` is at least ``role``
    (403 otherwise, before the body or query are looked at)."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(
        self,
        community_id: CommunityId,
        request: Request,
        principal: Principal = Depends(get_principal),
        host: ApiHost = Depends(api_host),
    ) -> CommunityCaller:
        role = await community_role(host, principal, community_id, self.role)
        return CommunityCaller(principal, community_id, role, actor_of(principal, request))


Member = Annotated[CommunityCaller, Depends(HasRole("member"))]
Moderator = Annotated[CommunityCaller, Depends(HasRole("moderator"))]
Admin = Annotated[CommunityCaller, Depends(HasRole("admin"))]


class ForWhom(BaseModel):
    user_id: Id | None = Field(default=None, description="default: the caller")


async def person_named(host: ProcessHost, user_id: int) -> str:
    """How chat names a person: ``@`` and their first account's login (or display name)."""
    async with host.db.read_session() as session:
        row = (
            await session.execute(
                select(User.display_name, Identity.login)
                .outerjoin(Identity, Identity.user_id == User.id)
                .where(User.id == user_id)
                .order_by(Identity.id)
                .limit(1)
            )
        ).first()
    if row is None:
        raise UnknownPerson(user_id)
    return f"@{row[1] or row[0] or user_id}"


@dataclass(frozen=True, slots=True)
class Whom:
    """The person a request acts for, and how chat names them (``@bob``)."""

    user_id: int
    name: str


async def whom(caller: Member, host: Running, body: ForWhom | None = None) -> Whom:
    """The person a request acts for: the caller, or the body's ``user_id`` (moderators and
    service accounts only)."""
    user_id = body.user_id if body else None
    if user_id is None:
        if caller.user_id is None:
            raise UserError("say for whom: give user_id")
        user_id = caller.user_id
    elif user_id != caller.user_id and not caller.moderator:
        raise NotAllowed("acting for someone else needs the moderator role")
    return Whom(user_id, await person_named(host, user_id))


ForSomeone = Annotated[Whom, Depends(whom)]


# ----- websockets ---------------------------------------------------------------------------


async def websocket_principal(websocket: WebSocket) -> Principal | None:
    host: ApiHost = websocket.app.state.runtime
    return await authenticate(host, presented_key(websocket.headers))


async def websocket_api_key(websocket: WebSocket) -> Principal | None:
    """The console speaks as anyone it is told to: only a global service key may use it."""
    principal = await websocket_principal(websocket)
    return principal if principal is not None and principal.is_global_service else None
