"""Pages from Jinja2 templates (autoescaped), with the shell's layout, navigation and
security headers. A feature renders its own templates with :func:`templates` over its
folder; they extend the shell's ``base.html``."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from waddlebot import __version__
from waddlebot.portal.pages import PortalPage
from waddlebot.portal.security import CSRF_FIELD, HEADERS, csrf_token, keep_csrf
from waddlebot.web.access import ROLE_RANK

SHELL_TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def templates(directory: Path = SHELL_TEMPLATES) -> Environment:
    """The templates of ``directory``, able to extend and include the shell's."""
    loaders = [FileSystemLoader(directory)]
    if directory != SHELL_TEMPLATES:
        loaders.append(FileSystemLoader(SHELL_TEMPLATES))
    return Environment(loader=ChoiceLoader(loaders), autoescape=True)


def pages_of(request: Request) -> tuple[PortalPage, ...]:
    pages: tuple[PortalPage, ...] = getattr(request.app.state, "portal_pages", ())
    return pages


def nav(request: Request) -> list[tuple[str, str]]:
    """The community's pages the person may open: (title, link)."""
    community = getattr(request.state, "portal_community", None)
    if community is None:
        return []
    rank = ROLE_RANK[community.role]
    return [("Home", f"/c/{community.id}/")] + [
        (page.title, page.href(community.id))
        for page in pages_of(request)
        if ROLE_RANK[page.role] <= rank
    ]


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    directory: Path = SHELL_TEMPLATES,
    headers: Mapping[str, str] = HEADERS,
) -> HTMLResponse:
    """The page, with what every page shows (who is signed in, the community and its
    navigation, the CSRF token) and the security headers (``headers``: the shell's, or
    theirs with a change such as :func:`~waddlebot.portal.security.framing`)."""
    values: dict[str, Any] = {
        "request": request,
        "csrf_token": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "person": getattr(request.state, "portal_person", None),
        "community": getattr(request.state, "portal_community", None),
        "communities": getattr(request.state, "portal_communities", []),
        "nav": nav(request),
        "version": __version__,
        "path": request.url.path,
    }
    values.update(context or {})
    html = templates(directory).get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers))
    keep_csrf(request, response)
    return response
