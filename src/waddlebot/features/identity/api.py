"""``/api/v1/identity``: the person calling (their accounts, API keys and portal login) and the
communities they manage (roles). Every change is audited with who did it and from where."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from waddlebot.features.community.service import CommunityError
from waddlebot.features.identity import apikeys
from waddlebot.features.identity.accounts import AccountError, LoginThrottled
from waddlebot.runtime import Runtime
from waddlebot.web.access import Principal
from waddlebot.web.deps import (
    SESSION_COOKIE,
    CommunityId,
    actor_of,
    community_role,
    get_principal,
    get_runtime,
    level_of,
    presented_key,
)
from waddlebot.web.numbers import Id
from waddlebot.web.refusals import mark_audited

router = APIRouter(prefix="/api/v1/identity", tags=["identity"])


def _person(principal: Principal) -> int:
    if principal.kind != "user" or principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs a person's key or session")
    return principal.user_id


class AccountOut(BaseModel):
    platform: str
    platform_user_id: str
    login: str
    display_name: str


class Me(BaseModel):
    user_id: int
    accounts: list[AccountOut]


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int = Field(default=365, ge=1, le=365)
    scopes: list[Literal["read", "write"]] = Field(
        default=["read", "write"], min_length=1, description="read: GET only; write: changes too"
    )


class KeyOut(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class NewKey(KeyOut):
    key: str = Field(description="shown this once; only a hash is kept")


class LoginIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class Session(BaseModel):
    token: str
    expires_in: int


class CommunityOut(BaseModel):
    id: int
    name: str
    prefix: str
    places: list[str]
    owners: list[str]


class RoleOut(BaseModel):
    name: str
    role: str


class RoleIn(BaseModel):
    role: Literal["moderator", "admin"]


def _key_out(info: apikeys.ApiKeyInfo) -> dict[str, object]:
    return {
        "key_id": info.key_id,
        "name": info.name,
        "scopes": list(info.scopes),
        "created_at": info.created_at,
        "expires_at": info.expires_at,
        "last_used_at": info.last_used_at,
    }


@router.get("/me", response_model=Me)
async def me(
    principal: Principal = Depends(get_principal), runtime: Runtime = Depends(get_runtime)
) -> Me:
    """The person calling and every platform account linked to them."""
    user_id = _person(principal)
    accounts = await runtime.identity.identities(user_id)
    return Me(user_id=user_id, accounts=[AccountOut(**asdict(a)) for a in accounts])


@router.get("/me/apikeys", response_model=list[KeyOut])
async def my_keys(
    principal: Principal = Depends(get_principal), runtime: Runtime = Depends(get_runtime)
) -> list[KeyOut]:
    """The caller's API keys that still work (never their secrets)."""
    user_id = _person(principal)
    return [KeyOut(**_key_out(info)) for info in await apikeys.user_keys(runtime.db, user_id)]


@router.post("/me/apikeys", response_model=NewKey, status_code=status.HTTP_201_CREATED)
async def create_my_key(
    body: KeyIn,
    request: Request,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> NewKey:
    """A new key acting as the caller (at most 5; they expire after a year at the latest)."""
    user_id = _person(principal)
    expires = datetime.now(UTC) + timedelta(days=body.expires_in_days)
    try:
        info, plaintext = await apikeys.create_key(
            runtime.db,
            body.name,
            body.scopes,
            kind="user",
            user_id=user_id,
            expires_at=expires,
            actor=actor_of(principal, request),
        )
    except apikeys.KeyLimitReached as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return NewKey(key=plaintext, **_key_out(info))


@router.delete("/me/apikeys/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_my_key(
    name: str,
    request: Request,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    user_id = _person(principal)
    key_id = await apikeys.revoke_user_key(
        runtime.db, user_id, name, actor=actor_of(principal, request)
    )
    if key_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"you have no key named {name!r}")
    runtime.keys.forget(key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/me/login", status_code=status.HTTP_204_NO_CONTENT)
async def set_my_login(
    body: LoginIn,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Set (or change) the email and password the caller logs in to the portal with."""
    user_id = _person(principal)
    try:
        await runtime.accounts.set_login(user_id, body.email, body.password)
    except AccountError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# logging in is the one identity endpoint that needs no key
login_router = APIRouter(prefix="/api/v1/identity", tags=["identity"])


@login_router.post("/login", response_model=Session)
async def login(
    body: LoginIn, request: Request, response: Response, runtime: Runtime = Depends(get_runtime)
) -> Session:
    """A portal session: its token works as ``Authorization: Bearer`` and as a cookie."""
    address = request.client.host if request.client else "unknown"
    try:
        token = await runtime.accounts.login(body.email, body.password, address)
    except LoginThrottled as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            str(exc),
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc
    except AccountError as exc:
        mark_audited(request)  # as account.login
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from exc
    ttl = int(runtime.accounts.session_ttl)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ttl,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return Session(token=token, expires_in=ttl)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, runtime: Runtime = Depends(get_runtime)) -> Response:
    token = presented_key(request.headers) or request.cookies.get(SESSION_COOKIE, "")
    await runtime.accounts.logout(token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/communities/{community_id}", response_model=CommunityOut)
async def community(
    community_id: CommunityId,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> CommunityOut:
    """A community's name, places and owners (moderator role)."""
    await community_role(runtime, principal, community_id, "moderator")
    try:
        info = await runtime.community.info(community_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return CommunityOut(
        id=info.id, name=info.name, prefix=info.prefix, places=info.entities, owners=info.owners
    )


@router.get("/communities/{community_id}/roles", response_model=list[RoleOut])
async def roles(
    community_id: CommunityId,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> list[RoleOut]:
    """Who holds the owner, admin and moderator roles (moderator role)."""
    await community_role(runtime, principal, community_id, "moderator")
    return [RoleOut(name=n, role=r) for n, r in await runtime.community.roles(community_id)]


@router.put("/communities/{community_id}/roles/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def set_role(
    community_id: CommunityId,
    user_id: Id,
    body: RoleIn,
    request: Request,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Make someone a moderator or an admin (admin role; only the owner makes admins)."""
    held = await community_role(runtime, principal, community_id, "admin")
    try:
        await runtime.community.set_role(
            community_id,
            user_id,
            body.role,
            actor_of(principal, request),
            actor_level=level_of(principal, held),
        )
    except CommunityError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except (LookupError, IntegrityError) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such community or person") from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/communities/{community_id}/roles/{user_id}", status_code=status.HTTP_204_NO_CONTENT
)
async def remove_role(
    community_id: CommunityId,
    user_id: Id,
    request: Request,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Take someone's moderator or admin role (admin role; only the owner for admins)."""
    held = await community_role(runtime, principal, community_id, "admin")
    try:
        await runtime.community.remove_role(
            community_id,
            user_id,
            actor_of(principal, request),
            actor_level=level_of(principal, held),
        )
    except CommunityError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except (LookupError, IntegrityError) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such community or person") from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)
