"""The inventory page of the portal: the community's items (searched as one types, added,
labelled, removed) and who has what (checked in with a click), through the endpoints of
``/api/v1/inventory`` (so with their roles and audit entries)."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from waddlebot.core.errors import WaddleError
from waddlebot.features.inventory import api
from waddlebot.features.shared import FeatureServices, Services
from waddlebot.portal.deps import Caller
from waddlebot.portal.forms import Errors, field_errors, form_of, from_htmx, said_in_place, sentence
from waddlebot.portal.rendering import render
from waddlebot.web.deps import CommunityCaller

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "/c/{community_id}/inventory"

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    caller: CommunityCaller,
    runtime: FeatureServices,
    *,
    search: str = "",
    errors: Errors | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    service = runtime.inventory
    words = search.split()
    items = await (
        service.search(caller.community_id, words) if words else service.list(caller.community_id)
    )
    context = {
        "items": items,
        "out": await service.list(caller.community_id, "out"),
        "search": search,
        "errors": errors or {},
        "values": values or {},
    }
    htmx_search = from_htmx(request) and request.method == "GET"
    template = "item_rows.html" if htmx_search else "inventory.html"
    return render(request, template, context, status_code=status_code, directory=TEMPLATES)


@router.get(PAGE)
async def inventory_page(
    request: Request, caller: Caller, runtime: Services, q: str = Query("", max_length=200)
) -> Response:
    """The page; with htmx (the search box), only the items' rows."""
    return await _page(request, caller, runtime, search=q.strip())


@router.post(PAGE + "/items")
async def add_item(request: Request, caller: Caller, runtime: Services) -> Response:
    form = await form_of(request)
    values = {f"item-{key}": value for key, value in form.items()}
    try:
        body = api.ItemIn(
            name=form.get("name", ""),
            description=form.get("description", ""),
            labels=form.get("labels", "").replace(",", " ").split(),
        )
    except ValidationError as exc:
        errors = field_errors(exc, "item")
        return await _page(request, caller, runtime, errors=errors, values=values, status_code=400)
    return await _done(request, caller, runtime, api.add_item(caller, runtime, body), values)


@router.post(PAGE + "/items/delete")
async def remove_item(request: Request, caller: Caller, runtime: Services) -> Response:
    """Remove an item: with htmx its row goes (an empty answer)."""
    name = (await form_of(request)).get("name", "")
    return await _done(request, caller, runtime, api.remove_item(caller, runtime, name))


@router.post(PAGE + "/items/labels")
async def add_label(request: Request, caller: Caller, runtime: Services) -> Response:
    form = await form_of(request)
    name, label = form.get("name", ""), form.get("label", "")
    if not label:
        return await _refused(request, caller, runtime, "give a label to add", 400)
    return await _done(request, caller, runtime, api.add_label(caller, runtime, name, label))


@router.post(PAGE + "/items/labels/delete")
async def remove_label(request: Request, caller: Caller, runtime: Services) -> Response:
    form = await form_of(request)
    name, label = form.get("name", ""), form.get("label", "")
    return await _done(request, caller, runtime, api.remove_label(caller, runtime, name, label))


@router.post(PAGE + "/items/checkin")
async def checkin(request: Request, caller: Caller, runtime: Services) -> Response:
    """Check an item in (a moderator may check in anything); the page shows it available."""
    name = (await form_of(request)).get("name", "")
    return await _done(request, caller, runtime, api.checkin(caller, runtime, name))


async def _done(
    request: Request,
    caller: CommunityCaller,
    runtime: FeatureServices,
    change: Awaitable[Any],
    values: dict[str, str] | None = None,
) -> Response:
    """The answer to a change: an empty one to htmx (the row it was sent from goes), the page
    again to a plain form; the service's refusal said where the change was asked."""
    try:
        await change
    except WaddleError as exc:
        return await _refused(request, caller, runtime, str(exc), exc.status, values)
    if from_htmx(request):
        return Response(status_code=200)
    return RedirectResponse(f"/c/{caller.community_id}/inventory#items", 303)


async def _refused(
    request: Request,
    caller: CommunityCaller,
    runtime: FeatureServices,
    message: str,
    status_code: int,
    values: dict[str, str] | None = None,
) -> Response:
    if from_htmx(request):
        return said_in_place("items-status", message)
    errors = {"item-form": sentence(message)}
    return await _page(
        request, caller, runtime, errors=errors, values=values, status_code=status_code
    )
