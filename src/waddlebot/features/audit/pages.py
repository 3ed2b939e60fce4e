"""The audit log page (admin role, as the API): the community's entries, newest first,
filtered by who, what, when (UTC) and outcome. A change of filter replaces the table in
place (htmx); without script, the form's button and the page links do the same."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from waddlebot.features.audit.api import Filters, entries_page
from waddlebot.portal.deps import InCommunity
from waddlebot.portal.rendering import render
from waddlebot.web.host import Running
from waddlebot.web.pages import paging

TEMPLATES = Path(__file__).resolve().parent / "templates"
FIELDS = ("actor", "action", "decision", "since", "until")
DECISIONS = (("", "any"), ("allow", "allowed"), ("deny", "refused"), ("change", "change"))
PAGE_SIZE = 50
MAX_TEXT = {"actor": 256, "action": 100}

router = APIRouter(include_in_schema=False)


def _when(text: str) -> datetime:
    """A ``datetime-local`` field's value (``2026-12-06T18:30``), read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _filters(form: dict[str, str]) -> tuple[Filters, dict[str, str]]:
    """The filters the form asks for, and what is wrong with each field that is wrong."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, most in MAX_TEXT.items():
        if len(form[name]) > most:
            errors[name] = f"At most {most} characters."
        else:
            values[name] = form[name]
    if form["decision"] in dict(DECISIONS):
        values["decision"] = form["decision"]
    else:
        errors["decision"] = "Choose one of the outcomes offered."
    for name in ("since", "until"):
        if form[name]:
            try:
                values[name] = _when(form[name])
            except ValueError:
                errors[name] = "A date and time, like 2026-12-06T18:30."
    since, until = values.get("since"), values.get("until")
    if since and until and until <= since:
        errors["until"] = "After the start."
    return Filters(**values), errors


@router.get("/c/{community_id}/audit")
async def audit_log(request: Request, community: InCommunity, host: Running) -> Response:
    form = {name: request.query_params.get(name, "") for name in FIELDS}
    filters, errors = _filters(form)
    entries: list[Any] = []
    following = ""
    if not errors:
        try:
            page = paging(PAGE_SIZE, request.query_params.get("cursor") or None)
        except RequestValidationError:
            errors["form"] = "That page link is not one this list gave: start again."
        else:
            found = await entries_page(host, community.id, filters, page)
            entries = found.items
            if found.next:
                following = f"{request.url.path}?{urlencode({**form, 'cursor': found.next})}"
    context = {
        "form": form,
        "errors": errors,
        "entries": entries,
        "next_page": following,
        "decisions": DECISIONS,
        "newest_page": f"{request.url.path}?{urlencode(form)}"
        if request.query_params.get("cursor")
        else "",
    }
    if request.headers.get("hx-request"):  # a filter changed: the form and table alone (a
        # 200 even with errors, since htmx swaps in no 4xx answer)
        return render(request, "audit_body.html", context, directory=TEMPLATES)
    status_code = 400 if errors else 200
    return render(request, "audit.html", context, status_code=status_code, directory=TEMPLATES)
