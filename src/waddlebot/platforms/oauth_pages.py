"""What the OAuth flows of the collectors show people: a small result page for the browser
coming back from the platform, and the connect link an admin asks the API for."""

from __future__ import annotations

import html
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from waddlebot.platforms.oauth_tickets import ConnectError

log = structlog.get_logger("waddlebot.oauth")
T = TypeVar("T")


def result_page(title: str, text: str, code: int = 200) -> HTMLResponse:
    body = (
        "<!doctype html><meta charset=utf-8><title>WaddleBot</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
    )
    return HTMLResponse(body, status_code=code)


class ConnectOut(BaseModel):
    url: str = Field(description="open it in a browser signed in to the account to connect")
    expires_in: int = Field(description="seconds the link stays valid")


COOKIE_PATH = "/collectors/"
COOKIE_SECONDS = 10 * 60  # as long as a sign-in's state is good


def _cookie(platform: str) -> str:
    return f"waddlebot_oauth_{platform.lower()}"


async def to_platform(
    platform: str,
    request: Request,
    authorize_url: Callable[[str], Awaitable[str]],
    *,
    cookie_path: str = COOKIE_PATH,
) -> RedirectResponse:
    """The browser sent on to the platform's consent page, carrying a secret in a cookie
    that binds the sign-in to it (sent back under ``cookie_path``, where the callback is);
    400 for a bad ticket."""
    browser = secrets.token_urlsafe(24)
    try:
        response = RedirectResponse(await authorize_url(browser), status_code=302)
    except ConnectError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    response.set_cookie(
        _cookie(platform),
        browser,
        max_age=COOKIE_SECONDS,
        path=cookie_path,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",  # sent when the platform sends the browser back
    )
    return response


@dataclass(frozen=True)
class Callback:
    """What a platform's OAuth redirect brings back."""

    code: str
    state: str
    error: str = ""
    error_description: str = ""
    browser: str = ""  # the start page's cookie


def browser_of(platform: str, request: Request) -> str:
    return request.cookies.get(_cookie(platform), "")


async def finish(
    platform: str, callback: Callback, complete: Callable[[str, str, str], Awaitable[T]]
) -> T | HTMLResponse:
    """The completed connection, or the page saying why it is not connected (the platform
    refused, the link was incomplete, forged or used, or something broke: logged)."""
    if callback.error:
        said = callback.error_description or callback.error
        return result_page("Not connected", f"{platform} said: {said}.", 400)
    if not (callback.code and callback.state):
        return result_page("Not connected", "The link is incomplete; start again.", 400)
    try:
        return await complete(callback.code, callback.state, callback.browser)
    except ConnectError as exc:
        return result_page("Not connected", str(exc), 400)
    except Exception:
        log.exception("connecting an account failed", platform=platform)
        return result_page(
            "Not connected", "Something went wrong; it has been logged. Try again.", 500
        )
