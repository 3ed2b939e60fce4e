"""A page's form as the body its feature's API takes: the fields read, the API's own model
checking them, and what was wrong said next to the field it is about."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import escape
from pydantic import ValidationError

from waddlebot.portal.security import CSRF_FIELD, HEADERS

Errors = dict[str, str]


def sentence(text: str) -> str:
    """A message from a service ("a title is at most 100 characters") as a sentence."""
    text = text.strip()
    if not text:
        return text
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def field_errors(exc: ValidationError, prefix: str) -> Errors:
    """The first problem with each field, keyed ``<prefix>-<field>`` (the input's id)."""
    errors: Errors = {}
    for problem in exc.errors():
        field = str(problem["loc"][0]) if problem["loc"] else "form"
        message = problem["msg"].removeprefix("Value error, ")
        errors.setdefault(f"{prefix}-{field}", sentence(message))
    return errors


async def form_of(request: Request) -> dict[str, str]:
    """The form's text fields (not its CSRF token), stripped of surrounding spaces."""
    form = await request.form()
    return {
        key: value.strip()
        for key, value in form.items()
        if isinstance(value, str) and key != CSRF_FIELD
    }


def from_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it swaps a part of the page with the answer)."""
    return request.headers.get("hx-request") == "true"


def said_in_place(target: str, message: str) -> HTMLResponse:
    """An htmx request refused by a service: the message goes to the element ``target`` (a
    ``role="status"`` line of the section) instead of where a success would have gone."""
    headers = {**HEADERS, "HX-Retarget": f"#{target}", "HX-Reswap": "innerHTML"}
    return HTMLResponse(str(escape(sentence(message))), headers=headers)
