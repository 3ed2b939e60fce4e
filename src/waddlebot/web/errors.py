"""The one place every error answer is made: each becomes a problem (``web/problems.py``).

- a :class:`WaddleError` raised anywhere under an endpoint: its kind's status and code (user
  error and limit reached 422, not found 404, conflict 409, not allowed 403) with its
  sentence. Endpoints raise or let through the services' errors and do not translate them
  one by one;
- an HTTP error, the endpoints' own and FastAPI's (no such path 404, wrong method 405): its
  status, the code for it, its detail;
- parameters or a body that do not fit: 422 ``validation_failed`` with ``errors``;
- anything else: 500 ``internal_error``, saying nothing of the bug (which is logged with its
  traceback by the server, as before).

Outages (503) are answered by ``web/outages.py``, in the same shape. A 401 or 403 is counted
and audited on its way out (``web/refusals.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from waddlebot.core.errors import WaddleError
from waddlebot.core.events import nul_message
from waddlebot.web.problems import problem_response
from waddlebot.web.refusals import note_refusal
from waddlebot.web.request_ids import HEADER

REQUEST_ID_HEADER = HEADER.decode()

# what Starlette says for a path nobody serves and a method a path does not take
_NO_ROUTE = "Not Found"
_NO_METHOD = "Method Not Allowed"


async def answer(
    request: Request,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """The problem answer to ``request``, after auditing a refusal."""
    await note_refusal(request, status, detail)
    return problem_response(
        status, detail, code=code, scope=request.scope, headers=headers, **extensions
    )


async def _refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WaddleError)
    return await answer(request, exc.status, exc.sentence, code=exc.code)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = str(exc.detail)
    if exc.status_code == 404 and detail == _NO_ROUTE:
        detail = f"nothing is served at {request.url.path}; see /docs for the paths there are"
    elif exc.status_code == 405 and detail == _NO_METHOD:
        allowed = (exc.headers or {}).get("Allow", "")
        detail = f"{request.method} is not taken at {request.url.path}; use {allowed}"
    return await answer(request, exc.status_code, detail, headers=exc.headers)


def _without_input(error: Mapping[str, Any]) -> dict[str, Any]:
    shown = {key: value for key, value in error.items() if key not in ("input", "url")}
    shown["msg"] = nul_message(error)
    return shown


def _where(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # what was sent is not repeated back: the caller has it, and a body can be large
    errors = jsonable_encoder([_without_input(error) for error in exc.errors()])
    first = errors[0] if errors else {"loc": (), "msg": "the request does not fit"}
    detail = f"{_where(first['loc'])}: {first['msg']}".lstrip(": ")
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more in errors)"
    return await answer(request, 422, detail, code="validation_failed", errors=errors)


async def _bug(request: Request, exc: Exception) -> Response:
    """Run by Starlette's outermost middleware, which logs the exception and raises it again
    to the server after sending this answer."""
    answer = problem_response(
        500,
        "WaddleBot failed on this request; it is a bug, logged with the request id: "
        "report it with that id",
        scope=request.scope,
    )
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:  # this answer is made outside the middleware that adds the header
        answer.headers[REQUEST_ID_HEADER] = request_id
    return answer


def install(app: FastAPI) -> None:
    app.add_exception_handler(WaddleError, _refusal)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _bug)
