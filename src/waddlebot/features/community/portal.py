"""The people page of the portal: a community's members with their roles and labels
(searched as one types, a page at a time), and one member's linked accounts, labels and role.
Roles change through the same endpoints as ``/api/v1/identity/communities/{id}/roles`` (admins
and up, and only up to the editor's own level), labels through ``/api/v1/labels`` (moderators)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from waddlebot.core.errors import WaddleError
from waddlebot.features.community.service import assignable
from waddlebot.features.identity import api as identity_api
from waddlebot.features.labels import api as labels_api
from waddlebot.features.shared import Services
from waddlebot.infra.host import ProcessHost
from waddlebot.portal.deps import Caller, RoleTooLow
from waddlebot.portal.forms import Errors, form_of, from_htmx, sentence
from waddlebot.portal.rendering import render
from waddlebot.web.access import ROLE_RANK
from waddlebot.web.deps import CommunityCaller, person_named
from waddlebot.web.host import Running
from waddlebot.web.numbers import Id

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "/c/{community_id}/people"
PER_PAGE = 25

router = APIRouter(include_in_schema=False)


@router.get(PAGE)
async def people(
    request: Request,
    caller: Caller,
    runtime: Services,
    search: str = Query(default="", max_length=100),
    page: int = Query(default=1, ge=1, le=100_000),
) -> Response:
    """The members, by role then name; with htmx (the search box, the pager), only the rows."""
    search = search.strip()
    members, total = await runtime.community.members(
        caller.community_id, search=search, offset=(page - 1) * PER_PAGE, limit=PER_PAGE
    )
    labels = runtime.labels
    rows = [
        (member, await labels.labels_of(caller.community_id, "user", str(member.user_id)))
        for member in members
    ]
    context = {
        "rows": rows,
        "search": search,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
        "total": total,
    }
    template = "people_rows.html" if from_htmx(request) else "people.html"
    return render(request, template, context, directory=TEMPLATES)


async def _member_page(
    request: Request,
    caller: CommunityCaller,
    runtime: Services,
    host: ProcessHost,
    user_id: int,
    *,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    role = await runtime.community.role_of(caller.community_id, user_id)
    if role is None:  # not a member here: nothing of them shows
        missing = {"title": "Not found", "message": "There is no such member here."}
        return render(request, "error.html", missing, status_code=404)
    labels = runtime.labels
    context: dict[str, Any] = {
        "user_id": user_id,
        "name": await person_named(host, user_id),
        "role": role,
        "identities": await runtime.identity.identities(user_id),
        "labels": await labels.labels_of(caller.community_id, "user", str(user_id)),
        "defined": await labels.list(caller.community_id),
        "choices": assignable(role, caller.level) if _is_admin(caller) else (),
        "errors": errors or {},
    }
    return render(request, "member.html", context, status_code=status_code, directory=TEMPLATES)


@router.get(PAGE + "/{user_id}")
async def member(
    request: Request, user_id: Id, caller: Caller, runtime: Services, host: Running
) -> Response:
    return await _member_page(request, caller, runtime, host, user_id)


def _is_admin(caller: CommunityCaller) -> bool:
    return ROLE_RANK[caller.role] >= ROLE_RANK["admin"]


@router.post(PAGE + "/{user_id}/role")
async def set_role(
    request: Request, user_id: Id, caller: Caller, runtime: Services, host: Running
) -> Response:
    """Give (or take) a role: admins and up, as the API (moderators get a 403); the service
    refuses a change past the editor's own level (a 403, nothing changed)."""
    if not _is_admin(caller):
        raise RoleTooLow("admin")
    if await runtime.community.role_of(caller.community_id, user_id) is None:
        return await _member_page(request, caller, runtime, host, user_id)  # its 404
    form = await form_of(request)
    wanted = form.get("role", "")
    try:
        if wanted == "member":
            await identity_api.remove_role(caller, user_id, runtime)
        else:
            body = identity_api.RoleIn.model_validate({"role": wanted})
            await identity_api.set_role(caller, user_id, body, runtime)
    except ValidationError:
        errors = {"member-role": "Choose one of the roles offered."}
        return await _member_page(
            request, caller, runtime, host, user_id, errors=errors, status_code=400
        )
    except WaddleError as exc:
        errors = {"member-role": sentence(str(exc))}
        return await _member_page(
            request, caller, runtime, host, user_id, errors=errors, status_code=exc.status
        )
    return RedirectResponse(f"/c/{caller.community_id}/people/{user_id}", 303)


@router.post(PAGE + "/{user_id}/labels")
async def give_label(
    request: Request, user_id: Id, caller: Caller, runtime: Services, host: Running
) -> Response:
    """Put a label on the member (moderators, as ``POST .../labels/{name}/targets``)."""
    return await _labelled(request, caller, runtime, host, user_id, give=True)


@router.post(PAGE + "/{user_id}/labels/delete")
async def take_label(
    request: Request, user_id: Id, caller: Caller, runtime: Services, host: Running
) -> Response:
    """Take a label off the member (moderators, as ``DELETE .../targets/user/{id}``)."""
    return await _labelled(request, caller, runtime, host, user_id, give=False)


async def _labelled(
    request: Request,
    caller: CommunityCaller,
    runtime: Services,
    host: ProcessHost,
    user_id: int,
    *,
    give: bool,
) -> Response:
    if await runtime.community.role_of(caller.community_id, user_id) is None:
        return await _member_page(request, caller, runtime, host, user_id)  # its 404
    name = (await form_of(request)).get("label", "")
    labels = runtime.labels
    try:
        if give:
            body = labels_api.ApplyIn(target_type="user", target_ids=[str(user_id)])
            await labels_api.apply_label(caller, name, body, labels)
        else:
            await labels_api.remove_label(caller, name, "user", str(user_id), labels)
    except WaddleError as exc:
        errors = {"member-label": sentence(str(exc))}
        return await _member_page(
            request, caller, runtime, host, user_id, errors=errors, status_code=exc.status
        )
    return RedirectResponse(f"/c/{caller.community_id}/people/{user_id}#labels", 303)
