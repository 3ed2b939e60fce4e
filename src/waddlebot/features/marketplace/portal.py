"""The portal's Modules page: the catalogue (searched as one types), each module's page (what
it is, adds and asks for; install after a review, upgrade, switch on and off, settings from its
``config_schema``, uninstall) and the health of each one here.

Who may do what is the API's (api.py): moderators read, admins change; every change goes
through :class:`~waddlebot.features.marketplace.installs.Installs`, which checks it and writes
the audit log as for chat and the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from waddlebot.core.errors import NotFound, WaddleError
from waddlebot.core.module_config import ConfigError
from waddlebot.features.marketplace.api import Health
from waddlebot.features.marketplace.asks import asked
from waddlebot.features.marketplace.catalogue import Catalogue, Entry, version_key
from waddlebot.features.marketplace.functions_page import is_function, spending_seen_by
from waddlebot.features.marketplace.installs import (
    BadRename,
    CommandClash,
    Installed,
    Installs,
    Review,
    commands_here,
)
from waddlebot.features.marketplace.settings_form import (
    FORM,
    RAW,
    SettingField,
    SettingsForm,
    placed,
    sentence,
    settings_form,
    submitted,
)
from waddlebot.features.shared import CATALOGUE, INSTALLS
from waddlebot.portal.deps import InCommunity, PageAccess, PageNotFound, PortalCommunity, SignedIn
from waddlebot.portal.rendering import render
from waddlebot.router.shared_health import SharedHealth
from waddlebot.web.access import ROLE_RANK
from waddlebot.web.deps import needs

TEMPLATES = Path(__file__).resolve().parent / "templates"
RENAME = "rename:"  # a command's new-name field in the install review

router = APIRouter(include_in_schema=False)
Catalogued = Annotated[Catalogue, needs(CATALOGUE)]
Communities = Annotated[Installs, needs(INSTALLS)]
ADMIN = [Depends(PageAccess("admin"))]  # as the API: admins change a community's modules


def _admin(community: PortalCommunity) -> bool:
    return ROLE_RANK[community.role] >= ROLE_RANK["admin"]


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    return render(request, template, context, status_code=status_code, directory=TEMPLATES)


async def _catalogue_rows(
    catalogue: Catalogue, installed: Mapping[str, Installed], q: str
) -> list[tuple[Entry, Installed | None]]:
    found = await (catalogue.search(q) if q.strip() else catalogue.entries())
    return [(entry, installed.get(entry.name)) for entry in found]


@router.get("/c/{community_id}/modules")
async def modules_page(
    request: Request,
    community: InCommunity,
    catalogue: Catalogued,
    installs: Communities,
    health: Health,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The community's modules with their health, and the catalogue; an htmx request (the
    search box, as one types) gets the catalogue's rows alone."""
    mine = {item.name: item for item in await installs.list(community.id)}
    rows = await _catalogue_rows(catalogue, mine, q)
    if request.headers.get("hx-request"):
        return _page(request, "catalogue_rows.html", rows=rows, q=q)
    return await _list_page(request, community, mine, rows, health, q=q)


async def _list_page(
    request: Request,
    community: PortalCommunity,
    mine: Mapping[str, Installed],
    rows: list[tuple[Entry, Installed | None]],
    health: SharedHealth,
    *,
    q: str = "",
    notice: str = "",
) -> Response:
    figures = await health.snapshots()
    installed = [(item, figures.get(item.name)) for item in mine.values()]
    has_functions = any(is_function(item.entry) for item in mine.values())
    return _page(
        request,
        "modules.html",
        installed=installed,
        newer={item.name: newer for item in mine.values() if (newer := _newer(item))},
        spent=await spending_seen_by(request, community.id) if has_functions else None,
        rows=rows,
        q=q,
        notice=notice,
        can_change=_admin(community),
    )


def _newer(installed: Installed | None) -> str:
    """The catalogue's version of an installed module when it is newer than the one here."""
    if installed is None or not installed.entry.installable:
        return ""
    latest = installed.entry.manifest.version
    return latest if version_key(latest) > version_key(installed.version) else ""


async def _entry(catalogue: Catalogue, name: str) -> Entry:
    try:
        return await catalogue.get(name)
    except NotFound as exc:
        raise PageNotFound from exc


async def _installed(installs: Installs, community_id: int, name: str) -> Installed | None:
    try:
        return await installs.get(community_id, name)
    except NotFound:
        return None


async def _module_page(
    request: Request,
    community: PortalCommunity,
    installs: Installs,
    health: SharedHealth,
    entry: Entry,
    status_code: int = 200,
    **context: Any,
) -> Response:
    installed = await _installed(installs, community.id, entry.name)
    schema = entry.manifest.config_schema
    # "About" describes what runs here: the installed version while an upgrade is pending
    manifest = entry.manifest if installed is None else await installs.manifest_here(installed)
    values: dict[str, Any] = {
        "entry": entry,
        "manifest": manifest,
        "installed": installed,
        "health": (await health.snapshots()).get(entry.name),
        "asks": asked(tuple(str(p) for p in manifest.permissions)),
        "form": settings_form(schema, installed.config) if installed and schema else None,
        "homepage": _link(entry.manifest.homepage),
        "can_change": _admin(community),
        "errors": {},
        "notice": "",
        "review": None,
        "renames": {},
        "newer": _newer(installed),
        "upgrade": None,
        "spent": await spending_seen_by(request, community.id) if is_function(entry) else None,
    }
    values.update(context)
    return _page(request, "module.html", status_code, **values)


def _link(url: str) -> str:
    """The homepage as a link only when it is a web address (never javascript: or data:)."""
    return url if url.lower().startswith(("https://", "http://")) else ""


@router.get("/c/{community_id}/modules/{name}")
async def module_page(
    request: Request,
    name: str,
    community: InCommunity,
    catalogue: Catalogued,
    installs: Communities,
    health: Health,
) -> Response:
    entry = await _entry(catalogue, name)
    return await _module_page(request, community, installs, health, entry)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _renames(data: Mapping[str, str]) -> dict[str, str]:
    """The new names the review's fields give (blank, or the command's own name: none)."""
    renames = {}
    for field, value in data.items():
        if field.startswith(RENAME):
            old, new = field.removeprefix(RENAME), value.strip().lstrip("!#").lower()
            if new and new != old:
                renames[old] = new
    return renames


def _review_error(exc: WaddleError) -> dict[str, str]:
    if isinstance(exc, CommandClash | BadRename):
        return {RENAME + exc.command: sentence(str(exc))}
    return {FORM: sentence(str(exc))}


@router.post("/c/{community_id}/modules/{name}/review", dependencies=ADMIN)
async def review_install(
    request: Request,
    name: str,
    community: InCommunity,
    catalogue: Catalogued,
    installs: Communities,
    health: Health,
) -> Response:
    """What installing the module adds and asks for, with a field to rename each command
    (a clash is shown at the command's field)."""
    entry = await _entry(catalogue, name)
    renames = _renames(await _form(request))
    review: Review | None = None
    try:
        review = await installs.review(community.id, entry.name, renames)
    except WaddleError as exc:
        return await _module_page(
            request,
            community,
            installs,
            health,
            entry,
            400,
            errors=_review_error(exc),
            reviewing=True,
            renames=renames,
        )
    return await _module_page(
        request,
        community,
        installs,
        health,
        entry,
        review=review,
        review_asks=asked(review.permissions),
        reviewing=True,
        renames=renames,
    )


@router.post("/c/{community_id}/modules/{name}/install", dependencies=ADMIN)
async def install(
    request: Request,
    name: str,
    community: InCommunity,
    person: SignedIn,
    catalogue: Catalogued,
    installs: Communities,
    health: Health,
) -> Response:
    """Install after the review was shown (the form carries the renames it was shown with)."""
    entry = await _entry(catalogue, name)
    renames = _renames(await _form(request))
    try:
        done = await installs.install(community.id, entry.name, actor=person.actor, renames=renames)
    except WaddleError as exc:
        return await _module_page(
            request,
            community,
            installs,
            health,
            entry,
            400,
            errors=_review_error(exc),
            reviewing=True,
            renames=renames,
        )
    return await _module_page(
        request,
        community,
        installs,
        health,
        entry,
        notice=f"Installed {done.name} {done.version}.",
    )


@dataclass(frozen=True, slots=True)
class UpgradeReview:
    """What moving to the new version adds beyond what the community has now."""

    review: Review
    commands: tuple[str, ...]  # commands the installed version does not have
    asks: list[str]  # what it asks for beyond the grants, in words


async def _upgrade_review(
    catalogue: Catalogue, installed: Installed, review: Review
) -> UpgradeReview:
    try:
        before = commands_here(
            await catalogue.manifest(installed.name, installed.version), installed.renames
        )
    except NotFound:  # the installed version is no longer in the catalogue
        before = ()
    added = tuple(command for command in review.commands if command not in before)
    return UpgradeReview(review, added, asked(review.new))


@router.post("/c/{community_id}/modules/{name}/upgrade", dependencies=ADMIN)
async def upgrade(
    request: Request,
    name: str,
    community: InCommunity,
    person: SignedIn,
    catalogue: Catalogued,
    installs: Communities,
    health: Health,
) -> Response:
    """Move to the catalogue's latest version, as ``POST .../modules/{name}/upgrade`` does: at
    once when it asks for nothing new; else the page shows what it adds and asks for, and
    upgrades when the admin confirms that very version (``confirm`` carries it, so a newer
    one registered meanwhile is reviewed in turn)."""
    entry = await _entry(catalogue, name)
    confirmed = (await _form(request)).get("confirm", "")
    try:
        review = await installs.upgrade_review(community.id, entry.name)
        if review.new and confirmed != review.manifest.version:
            installed = await installs.get(community.id, entry.name)
            shown = await _upgrade_review(catalogue, installed, review)
            return await _module_page(request, community, installs, health, entry, upgrade=shown)
        done = await installs.upgrade(community.id, entry.name, actor=person.actor)
    except WaddleError as exc:
        errors = {"upgrade": sentence(str(exc))}
        return await _module_page(
            request, community, installs, health, entry, exc.status, errors=errors
        )
    notice = f"{done.name} is now at {done.version}."
    return await _module_page(request, community, installs, health, entry, notice=notice)


@router.post("/c/{community_id}/modules/{name}/switch", dependencies=ADMIN)
async def switch(
    request: Request,
    name: str,
    community: InCommunity,
    person: SignedIn,
    catalogue: Catalogued,
    installs: Communities,
    health: Health,
) -> Response:
    entry = await _entry(catalogue, name)
    enabled = (await _form(request)).get("enabled") == "true"
    try:
        await installs.set_enabled(community.id, entry.name, enabled, actor=person.actor)
    except WaddleError as exc:
        errors = {"switch": sentence(str(exc))}
        return await _module_page(request, community, installs, health, entry, 400, errors=errors)
    notice = f"{entry.name} is {'on' if enabled else 'off'} here now."
    return await _module_page(request, community, installs, health, entry, notice=notice)


@router.post("/c/{community_id}/modules/{name}/settings", dependencies=ADMIN)
async def save_settings(
    request: Request,
    name: str,
    community: InCommunity,
    person: SignedIn,
    catalogue: Catalogued,
    installs: Communities,
    health: Health,
) -> Response:
    """Set the settings the form gives, checked as ``!module config`` and the API check them;
    what is wrong is shown at its field, with what was typed kept."""
    entry = await _entry(catalogue, name)
    installed = await _installed(installs, community.id, entry.name)
    schema = entry.manifest.config_schema
    if installed is None or not schema:
        errors = {FORM: f"{entry.name} has no settings here."}
        return await _module_page(request, community, installs, health, entry, 400, errors=errors)
    form = settings_form(schema, installed.config)
    data = await _form(request)
    values, errors = submitted(schema, form, data)
    if not errors:
        try:
            await installs.configure(community.id, entry.name, values, actor=person.actor)
        except ConfigError as exc:
            errors = placed(exc.problems, form)
        except WaddleError as exc:
            errors = {FORM: sentence(str(exc))}
        else:
            notice = f"Saved the settings of {entry.name}."
            return await _module_page(request, community, installs, health, entry, notice=notice)
    return await _module_page(
        request, community, installs, health, entry, 400, errors=errors, form=_kept(form, data)
    )


def _kept(form: SettingsForm, data: Mapping[str, str]) -> SettingsForm:
    """The form showing what was typed (a secret is never sent back)."""
    if form.raw is not None:
        return SettingsForm(raw=data.get(RAW, form.raw))
    return SettingsForm(tuple(_typed(field, data.get(field.name, "")) for field in form.fields))


def _typed(field: SettingField, text: str) -> SettingField:
    if field.kind == "secret":
        return field
    return replace(field, value=("true" if text else "") if field.kind == "boolean" else text)


@router.post("/c/{community_id}/modules/{name}/uninstall", dependencies=ADMIN)
async def uninstall(
    request: Request,
    name: str,
    community: InCommunity,
    person: SignedIn,
    catalogue: Catalogued,
    installs: Communities,
    health: Health,
) -> Response:
    entry = await _entry(catalogue, name)
    purge = (await _form(request)).get("purge") == "yes"
    try:
        await installs.uninstall(community.id, entry.name, actor=person.actor, purge=purge)
    except WaddleError as exc:
        errors = {"uninstall": sentence(str(exc))}
        return await _module_page(request, community, installs, health, entry, 400, errors=errors)
    kept = "and deleted what it stored" if purge else "(what it stored is kept)"
    mine = {item.name: item for item in await installs.list(community.id)}
    rows = await _catalogue_rows(catalogue, mine, "")
    notice = f"Uninstalled {entry.name} {kept}."
    return await _list_page(request, community, mine, rows, health, notice=notice)
