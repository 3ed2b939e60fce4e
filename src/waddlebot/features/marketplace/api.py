"""``/api/v1/marketplace``: the catalogue, and each community's modules, for the portal.

Reading the catalogue needs any key; registering a module a service key (the operator's).
A community's modules are read by its moderators and changed by its admins, as in chat."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field, model_validator

from waddlebot.core.errors import Conflict, UserError
from waddlebot.core.manifest import Manifest
from waddlebot.features.marketplace.catalogue import Catalogue, Entry
from waddlebot.features.marketplace.installs import Installed, Installs, Review
from waddlebot.features.shared import (
    CATALOGUE,
    FUNCTION_BUDGETS,
    FUNCTION_USAGE,
    INSTALLS,
    MODULE_HEALTH,
)
from waddlebot.router.breaker import HealthSnapshot
from waddlebot.router.shared_health import SharedHealth
from waddlebot.serverless.accounting import KEEP_DAYS, Accounting
from waddlebot.serverless.budgets import Budgets
from waddlebot.serverless.clients import openwhisk_target
from waddlebot.web.access import Principal
from waddlebot.web.deps import Admin, Moderator, get_principal, needs, require_service
from waddlebot.web.numbers import Count
from waddlebot.web.pages import Page, PageOf

router = APIRouter(prefix="/api/v1/marketplace", tags=["marketplace"])

Catalogued = Annotated[Catalogue, needs(CATALOGUE)]
Communities = Annotated[Installs, needs(INSTALLS)]
FunctionBudgets = Annotated[Budgets, needs(FUNCTION_BUDGETS)]
FunctionUsage = Annotated[Accounting, needs(FUNCTION_USAGE)]
Health = Annotated[SharedHealth, needs(MODULE_HEALTH)]
MIN_FUNCTION_SECRET = 16  # as a registered HTTP module's secret

Renames = Annotated[
    dict[str, str], Field(default_factory=dict, description="command -> name it gets here")
]


class EntryOut(BaseModel):
    name: str
    kind: str = Field(
        description="builtin, configured (by the operator), or registered: http, lambda, "
        "openwhisk or function"
    )
    optional: bool = Field(description="a community may switch it off")
    versions: list[str]
    schema_valid: bool = Field(description="its config_schema is a valid JSON Schema")
    schema_errors: str
    manifest: Manifest

    @classmethod
    def of(cls, entry: Entry) -> EntryOut:
        return cls(
            name=entry.name,
            kind=entry.kind,
            optional=entry.optional,
            versions=list(entry.versions) or [entry.manifest.version],
            schema_valid=not entry.schema_errors,
            schema_errors=entry.schema_errors,
            manifest=entry.manifest,
        )


class RegisterIn(BaseModel):
    url: str = Field(pattern=r"^https?://", max_length=500, description="where it is served")
    secret: str = Field(min_length=16, max_length=500, description="its shared secret")


class RegisterFunctionIn(BaseModel):
    engine: Literal["lambda", "openwhisk", "function"]
    target: str = Field(
        min_length=1,
        max_length=500,
        description="lambda: the function's ARN or name; openwhisk: NAMESPACE/[PACKAGE/]ACTION; "
        "function: the signed HTTP function's URL",
    )
    api_host: str = Field(
        default="", max_length=300, description="openwhisk: the API host, https://host[:port]"
    )
    api_key: str = Field(
        default="",
        max_length=500,
        description="openwhisk: the uuid:key API key; function: its shared secret",
    )

    @model_validator(mode="after")
    def _function_secret(self) -> Self:
        if self.engine == "function" and len(self.api_key) < MIN_FUNCTION_SECRET:
            raise ValueError(
                f"a function's api_key is its shared secret: at least {MIN_FUNCTION_SECRET} "
                "characters"
            )
        return self


class DayUsageOut(BaseModel):
    day: date
    invocations: Count
    errors: Count
    billed_ms: Count
    refused: Count = Field(description="calls the budget refused")


class FunctionUsageOut(BaseModel):
    daily_budget: Count = Field(description="calls a day (0: no limit)")
    own_budget: bool = Field(description="false: the operator's default applies")
    days: list[DayUsageOut] = Field(description="today first")


class BudgetIn(BaseModel):
    daily: Count | None = Field(description="calls a day, 0 for no limit, null: the default")


class InstalledOut(BaseModel):
    name: str
    version: str
    enabled: bool
    kind: str
    config: dict[str, Any]
    grants: list[str]
    renames: dict[str, str]

    @classmethod
    def of(cls, item: Installed) -> Self:
        return cls(
            name=item.name,
            version=item.version,
            enabled=item.enabled,
            kind=item.entry.kind,
            config=dict(item.config),
            grants=list(item.grants),
            renames=dict(item.renames),
        )


class ModuleHealthOut(BaseModel):
    """A module's health over every live router, as ``!module list`` and the portal say it."""

    breaker: str = Field(description="closed, open, half_open, or e.g. open in 1 of 2 routers")
    calls: int = Field(description="calls that reached the module (external modules)")
    errors: int = Field(description="calls that failed or timed out")
    refused: int = Field(description="calls refused without reaching it: busy or unavailable")
    p50_ms: float | None = Field(description="over its latest calls; null before the first")
    p99_ms: float | None
    routers: int = Field(description="router processes these figures are from")

    @classmethod
    def of(cls, snapshot: HealthSnapshot) -> ModuleHealthOut:
        return cls(
            breaker=snapshot.breaker,
            calls=snapshot.calls,
            errors=snapshot.errors,
            refused=snapshot.refused,
            p50_ms=snapshot.p50_ms,
            p99_ms=snapshot.p99_ms,
            routers=snapshot.routers,
        )


class ListedOut(InstalledOut):
    health: ModuleHealthOut | None = Field(
        default=None,
        description="null until a router has called it (or seen it fail); the module's, over "
        "every community that has it",
    )


class ReviewIn(BaseModel):
    renames: Renames


class ReviewOut(BaseModel):
    module: str
    version: str
    commands: list[str]
    events: list[str]
    permissions: list[str]
    new: list[str] = Field(description="asked for beyond what the community granted so far")

    @classmethod
    def of(cls, review: Review) -> ReviewOut:
        return cls(
            module=review.manifest.name,
            version=review.manifest.version,
            commands=list(review.commands),
            events=list(review.events),
            permissions=list(review.permissions),
            new=list(review.new),
        )


class InstallIn(BaseModel):
    module: str = Field(max_length=32)
    renames: Renames
    confirm: bool = Field(default=False, description="true once the review was shown and accepted")


class UpgradeIn(BaseModel):
    confirm: bool = Field(default=False, description="accept what the new version asks for")


class ChangeIn(BaseModel):
    enabled: bool | None = None
    config: dict[str, Any] | None = Field(default=None, description="settings to set")


@router.get("/catalogue", response_model=Page[EntryOut])
async def search_catalogue(
    catalogue: Catalogued,
    paging: PageOf,
    _: Principal = Depends(get_principal),
    q: Annotated[str, Query(max_length=200, description="words to look for")] = "",
) -> Page[EntryOut]:
    """Every module a community may have, or those matching ``q``."""
    found = await (catalogue.search(q) if q else catalogue.entries())
    return paging.page_of_all([EntryOut.of(entry) for entry in found])


@router.get("/catalogue/{name}", response_model=EntryOut)
async def catalogue_entry(
    name: str, catalogue: Catalogued, _: Principal = Depends(get_principal)
) -> EntryOut:
    return EntryOut.of(await catalogue.get(name))


@router.post("/catalogue", response_model=EntryOut, status_code=status.HTTP_201_CREATED)
async def register_module(
    body: RegisterIn, catalogue: Catalogued, principal: Principal = Depends(require_service)
) -> EntryOut:
    """Add an HTTP module (or its new version) by the URL it is served at (service key)."""
    return EntryOut.of(await catalogue.register(body.url, body.secret, actor=principal.actor))


@router.post("/catalogue/functions", response_model=EntryOut, status_code=status.HTTP_201_CREATED)
async def register_function(
    body: RegisterFunctionIn,
    catalogue: Catalogued,
    principal: Principal = Depends(require_service),
) -> EntryOut:
    """Add a serverless function (or its new version) by asking it for its manifest."""
    target = body.target
    if body.engine == "openwhisk":
        target = openwhisk_target(body.api_host, body.target)
    entry = await catalogue.register_function(
        body.engine, target, body.api_key, actor=principal.actor
    )
    return EntryOut.of(entry)


async def function_usage_of(
    community_id: int, budgets: Budgets, usage: Accounting, days: int
) -> FunctionUsageOut:
    """The community's budget and its serverless calls per day (the portal shows it too)."""
    own = await budgets.own(community_id)
    return FunctionUsageOut(
        daily_budget=await budgets.of(community_id),
        own_budget=own is not None,
        days=[
            DayUsageOut.model_validate(day, from_attributes=True)
            for day in await usage.usage(community_id, days)
        ],
    )


@router.get("/communities/{community_id}/functions", response_model=FunctionUsageOut)
async def function_usage(
    caller: Moderator,
    budgets: FunctionBudgets,
    usage: FunctionUsage,
    days: Annotated[int, Query(ge=1, le=KEEP_DAYS, description="how many days back")] = 7,
) -> Any:
    """What the community's serverless (#) commands cost, per day, and its budget."""
    return await function_usage_of(caller.community_id, budgets, usage, days)


@router.put("/communities/{community_id}/functions/budget", response_model=FunctionUsageOut)
async def set_function_budget(
    caller: Admin, body: BudgetIn, budgets: FunctionBudgets, usage: FunctionUsage
) -> Any:
    """Set how many serverless calls the community may make a day."""
    await budgets.set(caller.community_id, body.daily, actor=caller.actor)
    return await function_usage_of(caller.community_id, budgets, usage, 1)


@router.get("/communities/{community_id}/modules", response_model=Page[ListedOut])
async def community_modules(
    caller: Moderator, installs: Communities, health: Health, paging: PageOf
) -> Page[ListedOut]:
    """The community's modules: WaddleBot's own (on or off) and those it installed, each
    with its health over every router."""
    found = await installs.list(caller.community_id)
    figures = await health.snapshots()
    listed = []
    for item in found:
        out = ListedOut.of(item)
        snapshot = figures.get(item.name)
        if snapshot is not None:
            out.health = ModuleHealthOut.of(snapshot)
        listed.append(out)
    return paging.page_of_all(listed)


@router.post("/communities/{community_id}/modules/{name}/review", response_model=ReviewOut)
async def review_install(
    caller: Admin, name: str, body: ReviewIn, installs: Communities
) -> ReviewOut:
    """What installing ``name`` adds and asks for; 409 when it clashes or is installed."""
    return ReviewOut.of(await installs.review(caller.community_id, name, body.renames))


@router.post(
    "/communities/{community_id}/modules",
    response_model=InstalledOut,
    status_code=status.HTTP_201_CREATED,
)
async def install_module(caller: Admin, body: InstallIn, installs: Communities) -> InstalledOut:
    """Install a registered module, granting what its review shows (``confirm``: true)."""
    if not body.confirm:
        raise UserError(
            "show the review (POST .../modules/{name}/review) and send confirm: true to install"
        )
    installed = await installs.install(
        caller.community_id, body.module, actor=caller.actor, renames=body.renames
    )
    return InstalledOut.of(installed)


@router.post("/communities/{community_id}/modules/{name}/upgrade", response_model=InstalledOut)
async def upgrade_module(
    caller: Admin, name: str, body: UpgradeIn, installs: Communities
) -> InstalledOut:
    """Move to the latest version; one asking for more needs ``confirm``: true."""
    review = await installs.upgrade_review(caller.community_id, name)
    if review.new and not body.confirm:
        raise Conflict(
            f"{review.manifest.name} {review.manifest.version} asks for more "
            f"({', '.join(review.new)}); send confirm: true to allow it"
        )
    return InstalledOut.of(await installs.upgrade(caller.community_id, name, actor=caller.actor))


@router.patch("/communities/{community_id}/modules/{name}", response_model=InstalledOut)
async def change_module(
    caller: Admin, name: str, body: ChangeIn, installs: Communities
) -> InstalledOut:
    """Switch a module on or off here, or set its settings."""
    if body.enabled is None and body.config is None:
        raise UserError("send enabled, config or both")
    installed = await installs.get(caller.community_id, name)
    if body.config is not None:
        installed = await installs.configure(
            caller.community_id, name, body.config, actor=caller.actor
        )
    if body.enabled is not None:
        installed = await installs.set_enabled(
            caller.community_id, name, body.enabled, actor=caller.actor
        )
    return InstalledOut.of(installed)


@router.delete("/communities/{community_id}/modules/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def uninstall_module(
    caller: Admin,
    name: str,
    installs: Communities,
    purge: Annotated[bool, Query(description="also delete what it stored")] = False,
) -> Response:
    await installs.uninstall(caller.community_id, name, actor=caller.actor, purge=purge)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
