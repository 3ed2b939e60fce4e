"""What keeps the portal's pages safe: its cookies, the CSRF check, the security headers and
where a sign-in may send the browser next.

CSRF is a double-submit token: a random value in an ``HttpOnly`` cookie, repeated in every form
(``csrf_token``) and in every htmx request (the ``X-CSRF-Token`` header, set by portal.js from
the page's meta tag). A page from another site can neither read the cookie nor the page, so it
cannot repeat the value; ``SameSite=Lax`` keeps the cookies off its POSTs as well. Both cookies
are renewed at sign-in and sign-out."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

SESSION_COOKIE = "waddlebot_portal"
CSRF_COOKIE = "waddlebot_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # pages show a person's own data
}


def framing(*origins: str) -> dict[str, str]:
    """The security headers of a page that frames pages of ``origins`` besides its own (the
    overlays page previews the overlay pages, which another service may serve)."""
    sources = " ".join(dict.fromkeys(("'self'", *origins)))
    return {**HEADERS, "Content-Security-Policy": f"{CSP}; frame-src {sources}"}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL; empty for anything else."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class CsrfRefused(Exception):
    """A change without the page's CSRF token: refused with a 403 page."""


def secure(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (uvicorn takes X-Forwarded-Proto from the
    proxies FORWARDED_ALLOW_IPS trusts)."""
    return request.url.scheme == "https"


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path="/",
    )


def csrf_token(request: Request) -> str:
    """The token of this browser: its cookie's, or a new one (:func:`keep_csrf` sets it)."""
    token: str | None = getattr(request.state, "csrf", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE, "")
        if len(token) < 32:
            token = secrets.token_urlsafe(32)
        request.state.csrf = token
    return token


def renew_csrf(request: Request) -> str:
    """A fresh token (at sign-in and sign-out), for the pages that follow."""
    request.state.csrf = secrets.token_urlsafe(32)
    return str(request.state.csrf)


def keep_csrf(request: Request, response: Response) -> None:
    """Send the cookie when the page gave out a token the browser does not hold yet."""
    token = getattr(request.state, "csrf", None)
    if token is not None and token != request.cookies.get(CSRF_COOKIE):
        set_cookie(request, response, CSRF_COOKIE, token, None)


async def check_csrf(request: Request) -> None:
    """A dependency of every portal route: a change (POST, PUT, ...) carries the token."""
    if request.method in SAFE_METHODS:
        return
    held = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER, "")
    if not given and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else ""
    if len(held) < 32 or not hmac.compare_digest(held.encode(), given.encode()):
        raise CsrfRefused


def safe_next(target: str | None, default: str = "/") -> str:
    """Where to go after signing in: a path on this site only (never //host or a scheme)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ch in target for ch in "\r\n\t"):
        return default
    return target
