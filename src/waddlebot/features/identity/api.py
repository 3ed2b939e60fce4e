"""``/api/v1/identity``: the person calling (their accounts, API keys and portal login) and the
communities they manage (roles). Every change is audited with who did it and from where."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from waddlebot.core.errors import NotFound
from waddlebot.features.identity import apikeys
from waddlebot.features.identity.accounts import AccountError, LoginThrottled
from waddlebot.features.shared import Services
from waddlebot.web.deps import (
    SESSION_COOKIE,
    Admin,
    Moderator,
    Person,
    presented_key,
)
from waddlebot.web.numbers import Id
from waddlebot.web.pages import Page, PageOf
from waddlebot.web.refusals import mark_audited

router = APIRouter(prefix="/api/v1/identity", tags=["identity"])


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
async def me(person: Person, runtime: Services) -> Me:
    """The person calling and every platform account linked to them."""
    accounts = await runtime.identity.identities(person.user_id)
    return Me(user_id=person.user_id, accounts=[AccountOut(**asdict(a)) for a in accounts])


@router.get("/me/apikeys", response_model=Page[KeyOut])
async def my_keys(person: Person, runtime: Services, paging: PageOf) -> Page[KeyOut]:
    """The caller's API keys that still work (never their secrets)."""
    keys = await apikeys.user_keys(runtime.db, person.user_id)
    return paging.page_of_all([KeyOut(**_key_out(info)) for info in keys])


@router.post("/me/apikeys", response_model=NewKey, status_code=status.HTTP_201_CREATED)
async def create_my_key(person: Person, body: KeyIn, runtime: Services) -> NewKey:
    """A new key acting as the caller (at most 5; they expire after a year at the latest)."""
    info, plaintext = await runtime.identity.create_key(
        person.user_id,
        body.name,
        body.scopes,
        datetime.now(UTC) + timedelta(days=body.expires_in_days),
        actor=person.actor,
    )
    return NewKey(key=plaintext, **_key_out(info))


@router.delete("/me/apikeys/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_my_key(person: Person, name: str, runtime: Services) -> Response:
    key_id = await runtime.identity.revoke_key(person.user_id, name, actor=person.actor)
    if key_id is None:
        raise NotFound(f"you have no key named {name!r}")
    runtime.keys.forget(key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/me/login", status_code=status.HTTP_204_NO_CONTENT)
async def set_my_login(person: Person, body: LoginIn, runtime: Services) -> Response:
    """Set (or change) the email and password the caller logs in to the portal with."""
    await runtime.accounts.set_login(person.user_id, body.email, body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# logging in is the one identity endpoint that needs no key
login_router = APIRouter(prefix="/api/v1/identity", tags=["identity"])


@login_router.post("/login", response_model=Session)
async def login(body: LoginIn, runtime: Services, request: Request, response: Response) -> Session:
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
async def logout(request: Request, runtime: Services) -> Response:
    token = presented_key(request.headers) or request.cookies.get(SESSION_COOKIE, "")
    await runtime.accounts.logout(token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/communities/{community_id}", response_model=CommunityOut)
async def community(caller: Moderator, runtime: Services) -> CommunityOut:
    """A community's name, places and owners (moderator role)."""
    info = await runtime.community.info(caller.community_id)
    return CommunityOut(
        id=info.id, name=info.name, prefix=info.prefix, places=info.entities, owners=info.owners
    )


@router.get("/communities/{community_id}/roles", response_model=Page[RoleOut])
async def roles(caller: Moderator, runtime: Services, paging: PageOf) -> Page[RoleOut]:
    """Who holds the owner, admin and moderator roles (moderator role)."""
    found = await runtime.community.roles(caller.community_id)
    return paging.page_of_all([RoleOut(name=n, role=r) for n, r in found])


@router.put("/communities/{community_id}/roles/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def set_role(caller: Admin, user_id: Id, body: RoleIn, runtime: Services) -> Response:
    """Make someone a moderator or an admin (admin role; only the owner makes admins)."""
    with _community_and_person():
        await runtime.community.set_role(
            caller.community_id, user_id, body.role, caller.actor, actor_level=caller.level
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/communities/{community_id}/roles/{user_id}", status_code=status.HTTP_204_NO_CONTENT
)
async def remove_role(caller: Admin, user_id: Id, runtime: Services) -> Response:
    """Take someone's moderator or admin role (admin role; only the owner for admins)."""
    with _community_and_person():
        await runtime.community.remove_role(
            caller.community_id, user_id, caller.actor, actor_level=caller.level
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@contextmanager
def _community_and_person() -> Iterator[None]:
    """A role change names the community and the person: either may not exist."""
    try:
        yield
    except (LookupError, IntegrityError) as exc:
        raise NotFound("no such community or person") from exc
