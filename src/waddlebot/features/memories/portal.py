"""The memories page of the portal: a community's quotes (searched as one types), links and
notes, added, edited and removed through the same endpoints and services as
``/api/v1/memories`` (so with the same levels and audit entries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from waddlebot.core.errors import WaddleError
from waddlebot.features.memories import api
from waddlebot.features.memories.common import NumberedService, UnknownNumber
from waddlebot.features.memories.service import Memories
from waddlebot.features.shared import Services
from waddlebot.portal.deps import Caller
from waddlebot.portal.forms import Errors, field_errors, form_of, from_htmx, said_in_place, sentence
from waddlebot.portal.rendering import render
from waddlebot.web.numbers import Id

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "/c/{community_id}/memories"
SHOWN = 100  # of each kind; a search finds the others
Kind = Literal["quote", "url", "note"]
EDITABLE = ("quote", "note")

router = APIRouter(include_in_schema=False)


def _kept(memories: Memories, kind: Kind) -> NumberedService[Any]:
    services: dict[str, NumberedService[Any]] = {
        "quote": memories.quotes,
        "url": memories.urls,
        "note": memories.notes,
    }
    return services[kind]


def _labels(typed: str) -> list[str]:
    return typed.replace(",", " ").split()


async def _page(
    request: Request,
    who: api.Asking,
    *,
    search: str = "",
    errors: Errors | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    errors = dict(errors or {})
    quotes = await _quotes(who, search, errors)
    context = {
        "quotes": quotes,
        "search": search,
        "urls": await who.memories.urls.list(who.community_id, limit=SHOWN),
        "notes": await who.memories.notes.list(who.community_id, limit=SHOWN),
        "errors": errors,
        "values": values or {},
        "shown": SHOWN,
    }
    template = "quote_rows.html" if from_htmx(request) and request.method == "GET" else None
    return render(
        request,
        template or "memories.html",
        context,
        status_code=status_code,
        directory=TEMPLATES,
    )


async def _quotes(who: api.Asking, search: str, errors: Errors) -> list[Any]:
    if not search:
        return await who.memories.quotes.list(who.community_id, limit=SHOWN)
    try:
        found, _ = await who.memories.quotes.search(who.community_id, search, limit=SHOWN)
    except WaddleError as exc:
        errors["quote-search"] = sentence(str(exc))
        return []
    return found


@router.get(PAGE)
async def memories_page(
    request: Request,
    caller: Caller,
    runtime: Services,
    search: str = Query(default="", max_length=200),
) -> Response:
    """The page; with htmx (the search box), only the quotes' rows."""
    who = await api.asking(caller, runtime)
    return await _page(request, who, search=search.strip())


def _body(model: type[BaseModel], values: dict[str, Any], prefix: str) -> BaseModel | Errors:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        return field_errors(exc, prefix)


@router.post(PAGE + "/quotes")
async def add_quote(request: Request, caller: Caller, runtime: Services) -> Response:
    form = await form_of(request)
    fields = {key: form.get(key, "") for key in ("text", "said_by", "game")}
    return await _add(request, caller, runtime, "quote", api.QuoteIn, fields, form)


@router.post(PAGE + "/urls")
async def add_url(request: Request, caller: Caller, runtime: Services) -> Response:
    form = await form_of(request)
    fields = {key: form.get(key, "") for key in ("url", "title")}
    return await _add(request, caller, runtime, "url", api.UrlIn, fields, form)


@router.post(PAGE + "/notes")
async def add_note(request: Request, caller: Caller, runtime: Services) -> Response:
    form = await form_of(request)
    fields = {"text": form.get("text", ""), "labels": _labels(form.get("labels", ""))}
    return await _add(request, caller, runtime, "note", api.NoteIn, fields, form)


async def _add(
    request: Request,
    caller: Caller,
    runtime: Services,
    kind: Kind,
    model: type[BaseModel],
    fields: dict[str, Any],
    form: dict[str, str],
) -> Response:
    who = await api.asking(caller, runtime)
    body = _body(model, fields, kind)
    values = {f"{kind}-{key}": value for key, value in form.items()}
    if isinstance(body, dict):
        return await _page(request, who, errors=body, values=values, status_code=400)
    adders = {"quote": api.add_quote, "url": api.add_url, "note": api.add_note}
    try:
        await adders[kind](body, who)  # type: ignore[operator]
    except WaddleError as exc:
        errors = {f"{kind}-form": sentence(str(exc))}
        return await _page(request, who, errors=errors, values=values, status_code=exc.status)
    return RedirectResponse(f"/c/{caller.community_id}/memories#{kind}s", 303)


@router.get(PAGE + "/{kind}s/{number}/edit")
async def edit_form(
    request: Request, kind: Kind, number: Id, caller: Caller, runtime: Services
) -> Response:
    who = await api.asking(caller, runtime)
    found = await _kept(who.memories, kind).get(who.community_id, number)
    if kind not in EDITABLE or found is None:
        return _missing(request)
    values = {"text": found.text}
    if kind == "quote":
        values["said_by"] = found.said_by
    else:
        values["labels"] = " ".join(found.labels)
    return _edit_page(request, kind, number, values, {})


def _edit_page(
    request: Request,
    kind: Kind,
    number: int,
    values: dict[str, str],
    errors: Errors,
    status_code: int = 200,
) -> Response:
    context = {"kind": kind, "number": number, "values": values, "errors": errors}
    return render(request, "edit.html", context, status_code=status_code, directory=TEMPLATES)


def _missing(request: Request) -> Response:
    context = {"title": "Not found", "message": "There is no such quote or note."}
    return render(request, "error.html", context, status_code=404)


@router.post(PAGE + "/{kind}s/{number}")
async def edit(
    request: Request, kind: Kind, number: Id, caller: Caller, runtime: Services
) -> Response:
    """Change a quote (text, who said it: left empty, it stays) or a note (text, labels)."""
    if kind not in EDITABLE:
        return _missing(request)
    who = await api.asking(caller, runtime)
    form = await form_of(request)
    values = {key: form.get(key, "") for key in ("text", "said_by", "labels")}
    try:
        if kind == "quote":
            said_by = values["said_by"] or None
            quote = api.QuoteChange(text=values["text"], said_by=said_by)
            await api.edit_quote(number, quote, who)
        else:
            note = api.NoteChange(text=values["text"], labels=_labels(values["labels"]))
            await api.edit_note(number, note, who)
    except ValidationError as exc:
        errors = field_errors(exc, kind)
        return _edit_page(request, kind, number, values, errors, 400)
    except UnknownNumber:
        return _missing(request)
    except WaddleError as exc:
        errors = {"form": sentence(str(exc))}
        return _edit_page(request, kind, number, values, errors, exc.status)
    return RedirectResponse(f"/c/{caller.community_id}/memories#{kind}s", 303)


@router.post(PAGE + "/{kind}s/{number}/delete")
async def delete(
    request: Request, kind: Kind, number: Id, caller: Caller, runtime: Services
) -> Response:
    """Remove a quote, link or note: with htmx, its row goes (an empty answer)."""
    who = await api.asking(caller, runtime)
    try:
        await _kept(who.memories, kind).remove(who.community_id, number, author=who.author)
    except UnknownNumber:
        pass  # gone already: the row goes all the same
    except WaddleError as exc:
        if from_htmx(request):
            return said_in_place(f"{kind}s-status", str(exc))
        errors = {f"{kind}-form": sentence(str(exc))}
        return await _page(request, who, errors=errors, status_code=exc.status)
    if from_htmx(request):
        return Response(status_code=200)
    return RedirectResponse(f"/c/{caller.community_id}/memories#{kind}s", 303)
