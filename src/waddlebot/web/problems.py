"""The one shape of every error answer: RFC 9457 problem details.

``application/problem+json``, with ``type``, ``title``, ``status``, ``detail`` (the sentence
for the person asking), ``instance`` (the path asked for), and two members of our own: a
stable machine ``code`` (``not_found``, ``invalid_request``, ...: what a client branches on)
and ``request_id`` (the request's ``X-Request-ID``, to quote in a report). A request that
does not fit its parameters or body adds ``errors``: one entry per field at fault. Whatever
else an answer carries (``unavailable``, ``waiting``) is an extension member beside them.

``type`` is ``urn:waddlebot:problem:<code>``: an identifier, not a page to fetch (RFC 9457
allows non-resolvable type URIs); docs/api.md lists every code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:waddlebot:problem:"

# status -> the code an HTTP error of that status gets when nothing more specific is known.
# Written out rather than derived from http.HTTPStatus: its phrases change between Python
# versions (422 is "Unprocessable Entity" on 3.11, "Unprocessable Content" on 3.13), and a
# code must not.
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "content_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    431: "headers_too_large",
    500: "internal_error",
    503: "unavailable",
}

# code -> title: the same for every occurrence of a code (RFC 9457 3.1.3)
TITLES: dict[str, str] = {
    "bad_request": "Bad request",
    "unauthenticated": "Authentication required",
    "forbidden": "Not allowed",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "not_acceptable": "Not acceptable",
    "conflict": "Conflict",
    "content_too_large": "Content too large",
    "unsupported_media_type": "Unsupported media type",
    "invalid_request": "Invalid request",
    "validation_failed": "Validation failed",
    "limit_reached": "Limit reached",
    "too_many_requests": "Too many requests",
    "headers_too_large": "Request headers too large",
    "internal_error": "Internal error",
    "unavailable": "Service unavailable",
    "backlogged": "The router is behind",
}


def code_for(status: int) -> str:
    return STATUS_CODES.get(status, f"http_{status}")


class FieldError(BaseModel):
    """One field at fault, as pydantic reports it."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="what kind of mistake (pydantic's error type)")
    loc: list[str | int] = Field(description="where: body, query, path or header, then names")
    msg: str = Field(description="what is wrong with it")


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description=f"{TYPE_PREFIX}<code>")
    title: str = Field(description="the same for every problem of this code")
    status: int = Field(description="the HTTP status")
    detail: str = Field(description="what went wrong, for the person asking, and what to do")
    instance: str = Field(description="the path of the request")
    code: str = Field(description="stable, for programs: see docs/api.md")
    request_id: str = Field(description="the request's X-Request-ID")
    errors: list[FieldError] | None = Field(
        default=None, description="validation_failed only: every field at fault"
    )


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    instance: str = "",
    request_id: str = "",
    **extensions: Any,
) -> dict[str, Any]:
    """The body of a problem answer."""
    code = code or code_for(status)
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": TITLES.get(code, code.replace("_", " ").capitalize()),
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "request_id": request_id,
    }
    body.update(extensions)
    return body


def problem_response(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    scope: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem answer; ``scope`` (the request's) fills in ``instance`` and ``request_id``.
    Plain Starlette and orjson, so the webhooks' fast paths can answer with it too."""
    instance, request_id = "", ""
    if scope is not None:
        instance = str(scope.get("root_path", "")) + str(scope.get("path", ""))
        request_id = str(scope.get("state", {}).get("request_id", ""))
    body = problem(
        status, detail, code=code, instance=instance, request_id=request_id, **extensions
    )
    return Response(_dumps(body), status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _dumps(body: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:
        # a lone surrogate (JSON can carry "\udc89", UTF-8 cannot) in a field name or value
        # the request sent: the standard library escapes it instead of failing
        return json.dumps(body).encode()
