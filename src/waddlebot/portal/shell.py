"""The shell's own routes (the community picker at ``/``, a community's home at
``/c/{id}/``), its static files and error pages, and :func:`install`, which serves the portal
and the pages features contribute on an app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends as DependsParam
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from waddlebot.portal.deps import (
    InCommunity,
    PageAccess,
    PageNotFound,
    RoleTooLow,
    SignedIn,
    SignInRequired,
)
from waddlebot.portal.pages import PREFIX, PortalPage
from waddlebot.portal.rendering import render
from waddlebot.portal.security import CsrfRefused, check_csrf

STATIC = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/static"
STATIC_MAX_AGE = 86_400  # the pages ask for ?v=<version>, so a new release is fetched anew
# every route served by the portal service carries it: changes need the CSRF token
GUARDS: Sequence[DependsParam] = (Depends(check_csrf),)

Handler = Callable[[Request, Exception], Awaitable[Response]]

router = APIRouter(include_in_schema=False)


@router.get("/")
async def picker(request: Request, person: SignedIn) -> Response:
    """The communities the person may manage; straight into the only one."""
    communities = request.state.portal_communities
    if len(communities) == 1:
        return RedirectResponse(f"/c/{communities[0][0]}/", 303)
    return render(request, "picker.html")


@router.get("/c/{community_id}/")
async def community_home(request: Request, community: InCommunity) -> Response:
    return render(request, "community.html")


class CachedStatic(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


async def _sign_in(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):  # htmx follows this header, not a 303
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, 303)


async def _not_found(request: Request, exc: Exception) -> Response:
    request.state.portal_community = None
    return render(
        request,
        "error.html",
        {"title": "Not found", "message": "There is no such page."},
        status_code=404,
    )


async def _role(request: Request, exc: Exception) -> Response:
    return render(
        request, "error.html", {"title": "Not allowed", "message": str(exc) + "."}, status_code=403
    )


async def _csrf(request: Request, exc: Exception) -> Response:
    message = (
        "This form was refused: it did not carry this site's security token (CSRF). Go back, "
        "reload the page and try again."
    )
    return _error(request, 403, "Refused", message)


def _error(request: Request, status_code: int, title: str, message: str) -> Response:
    context = {"title": title, "message": message}
    return render(request, "error.html", context, status_code=status_code)


def _unfit(api_answer: Handler | None) -> Handler:
    """A community page's path or query that does not fit its type (``/c/1/people/abc``) is
    a 404 or 400 page, as an unknown id is; any other route keeps the API's answer."""

    async def answer(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        route = request.scope.get("route")
        if api_answer is not None and not getattr(route, "path", "").startswith(PREFIX):
            return await api_answer(request, exc)
        if any(error["loc"][:1] == ("path",) for error in exc.errors()):
            return await _not_found(request, exc)
        message = "This request does not fit this page. Go back, reload it and try again."
        return _error(request, 400, "Bad request", message)

    return answer


def install(app: FastAPI, pages: Iterable[PortalPage]) -> None:
    """Serve the portal on ``app``: the shell, its static files, and ``pages`` (each behind
    its role). Features' plain portal routes are included with :data:`GUARDS`."""
    app.state.portal_pages = tuple(pages)
    app.mount(STATIC_PATH, CachedStatic(directory=STATIC), name="portal-static")
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(PageNotFound, _not_found)
    app.add_exception_handler(RoleTooLow, _role)
    app.add_exception_handler(CsrfRefused, _csrf)
    api_answer = cast("Handler | None", app.exception_handlers.get(RequestValidationError))
    app.add_exception_handler(RequestValidationError, _unfit(api_answer))
    app.include_router(router, dependencies=GUARDS)
    for page in app.state.portal_pages:
        app.include_router(page.router, dependencies=[*GUARDS, Depends(PageAccess(page.role))])
