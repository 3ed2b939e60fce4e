"""The app's OpenAPI document: FastAPI's, with every operation's error answers documented as
what they are, problems (``web/problems.py``, ``application/problem+json``).

Each operation lists the errors it can give by name, 401 and 403 when it takes a key, 404
when its path names something, 422 when it takes parameters or a body, and ``4XX`` and
``5XX`` for the rest (a 409 from a service, a 503 outage, a 500 bug), all as ``Problem``.
FastAPI's own 422 schema (``HTTPValidationError``) goes: that is not what the API answers.
The security schemes come from ``web/deps.py``'s dependencies; routes without a key (health,
webhooks, OAuth pages, the calendar feed, login) declare none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from waddlebot.web.problems import PROBLEM_JSON, Problem

_REF = "#/components/schemas/{model}"
_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": _REF.format(model="Problem")}}}
_FASTAPI_422 = ("HTTPValidationError", "ValidationError")
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})

_NAMED = {
    "401": "no key or session, or not a valid one (code unauthenticated)",
    "403": "the caller may not do this (code forbidden)",
    "404": "what the path names does not exist (code not_found)",
    "422": "a parameter or the body does not fit (code validation_failed, with errors), or "
    "a rule refuses it (invalid_request, limit_reached)",
}
_RANGES = {
    "4XX": "another mistake in the request; detail says what to change",
    "5XX": "503: the database or Redis cannot be reached, retry after Retry-After seconds "
    "(code unavailable, or backlogged for events); 500: a bug (internal_error)",
}


def _errors_of(operation: dict[str, Any]) -> list[str]:
    parameters = operation.get("parameters", [])
    named = []
    if operation.get("security"):
        named += ["401", "403"]
    if any(p.get("in") == "path" for p in parameters):
        named.append("404")
    if parameters or "requestBody" in operation:
        named.append("422")
    return named


def _document_errors(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    # an HTML page (an OAuth page) answers a person's browser: its errors may be pages too
    pages = any("text/html" in r.get("content", {}) for r in responses.values())
    for status, description in [
        *((s, _NAMED[s]) for s in _errors_of(operation)),
        *_RANGES.items(),
    ]:
        content: dict[str, Any] = dict(_PROBLEM)
        if pages and status != "5XX":
            content["text/html"] = {"schema": {"type": "string"}}
        given = responses.get(status, {})
        keep = given.get("description") if status not in ("422", *_RANGES) else None
        responses[status] = {"description": keep or description, "content": content}


Schemas = Callable[[], Mapping[str, dict[str, Any]]]


def document(app: FastAPI, schemas: Schemas) -> dict[str, Any]:
    """The document, made once: ``schemas()`` are added to its components (those the
    operations refer to without FastAPI knowing, e.g. a body validated by hand)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_422:
        components.pop(name, None)
    problem = Problem.model_json_schema(ref_template=_REF)
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    components.update(schemas())
    for operations in doc.get("paths", {}).values():
        for method, operation in operations.items():
            if method in _METHODS:
                _document_errors(operation)
    app.openapi_schema = doc
    return doc


def install(app: FastAPI, schemas: Schemas) -> None:
    """Serve :func:`document` as the app's ``/openapi.json``."""
    app.openapi = lambda: document(app, schemas)  # type: ignore[method-assign]
