"""``/api/v1/module-store``: the store of a module served over HTTP (``ctx.store``).

Every call carries the store grant the router sent with the module call (``Authorization:
Bearer <request.store.token>``) and reaches only the module, community, channel and person the
grant names: 401 without a valid, unexpired grant, 403 for the person of a call that had no
caller, 422 for a body that does not fit (and the store's refusals: full, too large, not a
number). Not on the hot path: a module asks only when its handler uses ``ctx.store``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, JsonValue

from waddlebot.core.errors import NotAllowed
from waddlebot.features.modulestore.grants import PATH, Granted, GrantRefused
from waddlebot.features.shared import Services
from waddlebot.sdk.store import INT64, MAX_KEY, Bucket, Scope

router = APIRouter(prefix=PATH, tags=["module store"])

BEARER = HTTPBearer(
    scheme_name="storeGrant",
    description="the token of `request.store` in the module call",
    auto_error=False,
)


async def _granted(
    runtime: Services, credentials: HTTPAuthorizationCredentials | None = Security(BEARER)
) -> Granted:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a store grant is required: Authorization: Bearer <the token of request.store>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return runtime.store_grants.open(credentials.credentials)
    except GrantRefused as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the store grant is forged, damaged or expired; use the one of the current call",
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc


Grant = Annotated[Granted, Security(_granted)]


def _bucket(grant: Granted, scope: Scope) -> Bucket:
    bucket = grant.bucket(scope)
    if bucket is None:
        raise NotAllowed("this call had no caller, so there is no person to keep things for")
    return bucket


# ----- bodies ------------------------------------------------------------------------------


class KeyIn(BaseModel):
    scope: Scope
    key: str = Field(min_length=1, max_length=MAX_KEY)


class SetIn(KeyIn):
    value: JsonValue
    ttl: float | None = Field(default=None, gt=0, description="seconds; none: kept until deleted")
    version: int | None = Field(
        default=None,
        ge=0,
        description="write only if the key is at this version (0: absent); none: whatever is there",
    )


class IncrementIn(KeyIn):
    by: int = Field(default=1, ge=INT64[0], le=INT64[1])


class KeysIn(BaseModel):
    scope: Scope
    prefix: str = Field(default="", max_length=MAX_KEY)


class EntryOut(BaseModel):
    found: bool
    value: JsonValue = None
    version: int = Field(default=0, description="0 when not found")


class WrittenOut(BaseModel):
    written: bool = Field(description="false when the version given was not the key's")
    version: int | None


class DeletedOut(BaseModel):
    deleted: bool


class CountOut(BaseModel):
    value: int


class KeysOut(BaseModel):
    keys: list[str]


# ----- endpoints ----------------------------------------------------------------------------


@router.post("/get", response_model=EntryOut)
async def get_entry(grant: Grant, runtime: Services, body: KeyIn) -> EntryOut:
    """The value of a key and its version (for a compare-and-set)."""
    entry = await runtime.module_store.read(_bucket(grant, body.scope), body.key)
    if entry is None:
        return EntryOut(found=False)
    return EntryOut(found=True, value=entry.value, version=entry.version)


@router.post("/set", response_model=WrittenOut)
async def set_entry(grant: Grant, runtime: Services, body: SetIn) -> WrittenOut:
    """Write a key, unconditionally or only at a version; 422 ``store_full`` past the
    module's quota in the community, ``value_too_large`` past the size of one value."""
    version = await runtime.module_store.write(
        _bucket(grant, body.scope), body.key, body.value, ttl=body.ttl, version=body.version
    )
    return WrittenOut(written=version is not None, version=version)


@router.post("/delete", response_model=DeletedOut)
async def delete_entry(grant: Grant, runtime: Services, body: KeyIn) -> DeletedOut:
    deleted = await runtime.module_store.delete(_bucket(grant, body.scope), body.key)
    return DeletedOut(deleted=deleted)


@router.post("/increment", response_model=CountOut)
async def increment_entry(grant: Grant, runtime: Services, body: IncrementIn) -> CountOut:
    """Add ``by`` to a whole number (0 when absent); 409 ``not_a_number`` otherwise."""
    value = await runtime.module_store.increment(_bucket(grant, body.scope), body.key, body.by)
    return CountOut(value=value)


@router.post("/keys", response_model=KeysOut)
async def list_keys(grant: Grant, runtime: Services, body: KeysIn) -> KeysOut:
    keys = await runtime.module_store.keys(_bucket(grant, body.scope), body.prefix)
    return KeysOut(keys=keys)
