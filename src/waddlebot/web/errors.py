"""The one HTTP answer to a service's refusal: a :class:`WaddleError` raised anywhere under
an endpoint becomes ``{"detail": <its sentence>}`` with its kind's status (user error and
limit reached 422, not found 404, conflict 409, not allowed 403). Endpoints raise or let
through the services' errors and do not translate them one by one."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from waddlebot.core.errors import WaddleError
from waddlebot.web.refusals import audit_refusal


async def answer_refusal(request: Request, exc: Exception) -> Response:
    """As if the endpoint had raised the HTTP error: a 403 is audited like any other."""
    assert isinstance(exc, WaddleError)
    return await audit_refusal(request, HTTPException(exc.status, exc.sentence))


def install(app: FastAPI) -> None:
    app.add_exception_handler(WaddleError, answer_refusal)
