"""The alias feature's portal page: a community's aliases (list, search as one types, define
or change, remove) for moderators and up, as ``!alias`` and ``!unalias`` in chat; forcing an
alias over a command is for admins, as in chat. The checks are the chat module's
(:func:`~waddlebot.features.alias.checks.why_refused`); the page reads the form and renders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from waddlebot.core.parser import SERVERLESS_PREFIX
from waddlebot.features.alias.checks import why_refused
from waddlebot.features.alias.service import (
    MAX_EXPANSION,
    AliasError,
    AliasInfo,
    check_alias_name,
    normalise_expansion,
    target_name,
)
from waddlebot.features.shared import Services
from waddlebot.portal.deps import InCommunity, RoleTooLow, SignedIn
from waddlebot.portal.rendering import render
from waddlebot.web.access import ROLE_RANK

TEMPLATES = Path(__file__).resolve().parent / "templates"
PREFIX = "!"  # how the page writes commands; an alias is stored without the prefix

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=1024)]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _matching(aliases: list[AliasInfo], query: str) -> list[AliasInfo]:
    words = query.lower().removeprefix(PREFIX).split()
    return [
        alias
        for alias in aliases
        if all(word in alias.name or word in alias.expansion.lower() for word in words)
    ]


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    values = {"prefix": PREFIX, "max_expansion": MAX_EXPANSION, **context}
    return render(request, template, values, status_code=status_code, directory=TEMPLATES)


async def _list_page(
    request: Request, runtime: Services, community: Any, status_code: int = 200, **context: Any
) -> Response:
    values: dict[str, Any] = {
        "aliases": await runtime.aliases.list(community.id),
        "query": "",
        "errors": {},
        "form": {},
        "may_force": ROLE_RANK[community.role] >= ROLE_RANK["admin"],
    }
    values.update(context)
    return _page(request, "aliases.html", status_code, **values)


@router.get("/c/{community_id}/aliases")
async def aliases(
    request: Request, community: InCommunity, runtime: Services, q: str = "", name: str = ""
) -> Response:
    """The list; ``?name=`` fills the form with that alias, to change it."""
    found = await runtime.aliases.lookup(community.id, name.lower()) if name else None
    form = {} if found is None else {"name": found.name, "runs": found.shown(PREFIX)}
    if found is not None and found.forced:
        form["forced"] = "on"
    listed = _matching(await runtime.aliases.list(community.id), q[:100])
    return await _list_page(request, runtime, community, aliases=listed, query=q[:100], form=form)


@router.get("/c/{community_id}/aliases/rows")
async def alias_rows(
    request: Request, community: InCommunity, runtime: Services, q: str = ""
) -> Response:
    listed = _matching(await runtime.aliases.list(community.id), q[:100])
    return _page(request, "alias_rows.html", aliases=listed, query=q[:100])


async def _custom_exists(runtime: Any, community_id: int, name: str) -> bool:
    return await runtime.commands.get(community_id, name) is not None


@router.post("/c/{community_id}/aliases")
async def define_alias(
    request: Request,
    community: InCommunity,
    person: SignedIn,
    runtime: Services,
    name: Text = "",
    runs: Text = "",
    forced: Text = "",
) -> Response:
    """Define or change an alias, with the checks ``!alias`` makes."""
    force = forced == "on"
    if force and ROLE_RANK[community.role] < ROLE_RANK["admin"]:
        raise RoleTooLow("admin")  # forcing an alias over a command, as in chat
    form = {"name": name, "runs": runs, "forced": forced}
    errors: dict[str, str] = {}
    try:
        normal = check_alias_name(name)
    except AliasError as exc:
        errors["name"] = _sentence(str(exc))
    try:
        expansion = normalise_expansion(runs, PREFIX)
    except AliasError as exc:
        errors["runs"] = _sentence(str(exc))
    if not errors:
        target = "" if expansion.startswith(SERVERLESS_PREFIX) else target_name(expansion)
        refused = await why_refused(
            community.id,
            normal,
            target,
            runtime.registry.declared_names(),
            lambda cid, n: _custom_exists(runtime, cid, n),
            runtime.aliases,
            force,
            PREFIX,
        )
        if refused:
            errors["runs" if "is not a command" in refused else "name"] = _sentence(refused)
    if not errors:
        try:
            created = await runtime.aliases.define(
                community.id, normal, expansion, forced=force, actor=person.actor
            )
        except AliasError as exc:
            errors["name"] = _sentence(str(exc))
        else:
            verb = "Added" if created else "Changed"
            notice = f"{verb} the alias {PREFIX}{normal}."
            return await _list_page(request, runtime, community, notice=notice)
    return await _list_page(request, runtime, community, 400, errors=errors, form=form)


@router.post("/c/{community_id}/aliases/remove")
async def remove_alias(
    request: Request, community: InCommunity, person: SignedIn, runtime: Services, name: Text = ""
) -> Response:
    try:
        removed = await runtime.aliases.remove(
            community.id, check_alias_name(name), actor=person.actor
        )
    except AliasError:
        removed = False
    shown = name.strip().lower()[:40]
    notice = f"Removed the alias {PREFIX}{shown}." if removed else f"No alias {PREFIX}{shown} here."
    if request.headers.get("hx-request"):
        return _page(request, "alias_removed.html", notice=notice)
    return await _list_page(request, runtime, community, 200 if removed else 404, notice=notice)
