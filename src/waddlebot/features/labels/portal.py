"""The labels page of the portal: the community's label definitions (the level each grants)
and its label limits; moderators read them, admins define, delete and change the limits,
through the same endpoints as ``/api/v1/labels`` (so with the same levels and audit entries).
Who has which label is on the people page (features/community/portal.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from waddlebot.core.errors import WaddleError
from waddlebot.core.permissions import Level
from waddlebot.features.labels import api
from waddlebot.features.labels.service import LabelService
from waddlebot.features.shared import Services
from waddlebot.portal.deps import Caller, RoleTooLow
from waddlebot.portal.forms import Errors, field_errors, form_of, sentence
from waddlebot.portal.rendering import render
from waddlebot.web.access import ROLE_RANK
from waddlebot.web.deps import CommunityCaller

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "/c/{community_id}/labels"
LIMITS = tuple(api.Limits.model_fields)

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    caller: CommunityCaller,
    labels: LabelService,
    *,
    errors: Errors | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "labels": await labels.list(caller.community_id),
        "limits": await labels.limits(caller.community_id),
        "limit_help": {name: field.description for name, field in api.Limits.model_fields.items()},
        "levels": [(int(level), level.label) for level in Level],
        "level_names": {int(level): level.label for level in Level},
        "admin": ROLE_RANK[caller.role] >= ROLE_RANK["admin"],
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "labels.html", context, status_code=status_code, directory=TEMPLATES)


def _admin(caller: CommunityCaller) -> None:
    """Defining, deleting and the limits are the admins' (as the API)."""
    if ROLE_RANK[caller.role] < ROLE_RANK["admin"]:
        raise RoleTooLow("admin")


def _body(model: type[BaseModel], values: dict[str, Any], prefix: str) -> BaseModel | Errors:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        return field_errors(exc, prefix)


@router.get(PAGE)
async def labels_page(request: Request, caller: Caller, runtime: Services) -> Response:
    return await _page(request, caller, runtime.labels)


@router.post(PAGE)
async def define(request: Request, caller: Caller, runtime: Services) -> Response:
    _admin(caller)
    form = await form_of(request)
    fields = {key: form.get(key, "") for key in ("name", "colour", "description")}
    values = {f"label-{key}": value for key, value in form.items()}
    body = _body(api.LabelIn, {**fields, "grants_level": form.get("grants_level") or None}, "label")
    if isinstance(body, dict):
        return await _page(
            request, caller, runtime.labels, errors=body, values=values, status_code=400
        )
    try:
        await api.create_label(caller, body, runtime.labels)  # type: ignore[arg-type]
    except WaddleError as exc:
        errors = {"label-form": sentence(str(exc))}
        return await _page(
            request, caller, runtime.labels, errors=errors, values=values, status_code=exc.status
        )
    return RedirectResponse(f"/c/{caller.community_id}/labels#defined", 303)


@router.post(PAGE + "/delete")
async def delete(request: Request, caller: Caller, runtime: Services) -> Response:
    _admin(caller)
    name = (await form_of(request)).get("name", "")
    try:
        await api.delete_label(caller, name, runtime.labels)
    except WaddleError as exc:
        errors = {"label-form": sentence(str(exc))}
        return await _page(request, caller, runtime.labels, errors=errors, status_code=exc.status)
    return RedirectResponse(f"/c/{caller.community_id}/labels#defined", 303)


@router.post(PAGE + "/limits")
async def set_limits(request: Request, caller: Caller, runtime: Services) -> Response:
    _admin(caller)
    form = await form_of(request)
    values = {f"limit-{key}": form.get(key, "") for key in LIMITS}
    body = _body(api.LimitsIn, {key: form.get(key) or None for key in LIMITS}, "limit")
    if isinstance(body, dict):
        return await _page(
            request, caller, runtime.labels, errors=body, values=values, status_code=400
        )
    try:
        await api.set_limits(caller, body, runtime.labels)  # type: ignore[arg-type]
    except WaddleError as exc:
        errors = {"limit-form": sentence(str(exc))}
        return await _page(
            request, caller, runtime.labels, errors=errors, values=values, status_code=exc.status
        )
    return RedirectResponse(f"/c/{caller.community_id}/labels#limits", 303)
