"""The identity feature's portal pages: signing in (email and password, or a one-time link
from ``!portal``), signing out, and the account page (linked identities, API keys, sessions,
the portal login). Served by the ``portal`` service; every change needs the CSRF token (the
shell's guard, portal/shell.py).

Sign-in methods are listed in :data:`SIGN_IN_METHODS`; beside them, one button per platform
whose app is configured signs in with that platform's account (``/login/<platform>``,
:mod:`waddlebot.features.identity.oauth_signin`; docs/portal.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from waddlebot.core.errors import WaddleError
from waddlebot.features.identity.accounts import AccountError, LoginThrottled
from waddlebot.features.identity.oauth_signin import SignInApp, UnknownAccount
from waddlebot.features.identity.signin_links import LINK_SECONDS
from waddlebot.features.shared import FeatureServices, Services
from waddlebot.platforms.oauth_pages import browser_of, to_platform
from waddlebot.platforms.oauth_tickets import ConnectError
from waddlebot.portal.deps import PageNotFound, SignedIn, current_person
from waddlebot.portal.rendering import render
from waddlebot.portal.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    renew_csrf,
    safe_next,
    set_cookie,
)
from waddlebot.web.deps import person_named
from waddlebot.web.host import Running

TEMPLATES = Path(__file__).resolve().parent / "templates"
# how a person may sign in, in the order the sign-in page offers them: (name, what it says)
SIGN_IN_METHODS = (
    ("password", "Your email and password (set them on your account page once signed in)."),
    (
        "link",
        f"Type !portal in a chat where WaddleBot listens: it sends you a link by private "
        f"message that signs you in once, within {LINK_SECONDS // 60} minutes.",
    ),
)
KEY_DAYS = (30, 90, 365)
KEY_SCOPES = {"read": ("read",), "write": ("read", "write")}

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=1024)]


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    return render(request, template, context, status_code=status_code, directory=TEMPLATES)


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return text[:1].upper() + text[1:] + "."


async def _signed_in(request: Request, runtime: Services, token: str, goto: str) -> Response:
    """Hand this browser the new session ``token``: whatever session it held ends here (no
    session fixation), and it gets a new CSRF token."""
    old = request.cookies.get(SESSION_COOKIE, "")
    if old and old != token:
        await runtime.accounts.logout(old)
    response = RedirectResponse(safe_next(goto), 303)
    set_cookie(request, response, SESSION_COOKIE, token, int(runtime.accounts.session_ttl))
    set_cookie(request, response, CSRF_COOKIE, renew_csrf(request), None)
    return response


def _login_page(request: Request, status_code: int = 200, **context: Any) -> Response:
    runtime: FeatureServices = request.app.state.runtime
    values: dict[str, Any] = {
        "next": "/",
        "email": "",
        "errors": {},
        "methods": SIGN_IN_METHODS,
        "platforms": list(runtime.oauth_signin.apps.values()),
    }
    values.update(context)
    return page(request, "login.html", status_code, **values)


@router.get("/login")
async def login_form(request: Request, host: Running, next: str = "/") -> Response:
    if await current_person(request, host) is not None:
        return RedirectResponse(safe_next(next), 303)
    return _login_page(request, next=safe_next(next))


def _link_gone(request: Request) -> Response:
    return page(request, "link.html", 410, name="")


@router.get("/login/link/{token}")
async def link_form(request: Request, token: str, runtime: Services) -> Response:
    """What the link from ``!portal`` opens: who it signs in, and a button that does (a GET
    spends nothing, so a chat's link preview cannot use it up)."""
    user_id = await runtime.signin_links.holder(token)
    if user_id is None:
        return _link_gone(request)
    return page(request, "link.html", name=await person_named(runtime, user_id), token=token)


@router.post("/login/link/{token}")
async def link_login(request: Request, token: str, runtime: Services) -> Response:
    user_id = await runtime.signin_links.redeem(token)
    if user_id is None:
        return _link_gone(request)
    runtime.audit.record("account.login", decision="allow", actor=f"user:{user_id}")
    return await _signed_in(request, runtime, await runtime.accounts.start_session(user_id), "/")


# ----- signing in with a platform's account (OAuth) ------------------------------------------

OAUTH_COOKIE_PATH = "/login/"  # the callback's, and nothing else of the portal's


def _app(runtime: Services, platform: str) -> SignInApp:
    app = runtime.oauth_signin.apps.get(platform)
    if app is None:
        raise PageNotFound
    return app


@router.get("/login/{platform}")
async def oauth_start(
    request: Request, platform: str, runtime: Services, next: str = "/"
) -> Response:
    """Off to the platform: a GET (a link, not a form: the CSP's ``form-action 'self'`` would
    stop a form's redirect to another site). It spends nothing; the state it makes works once,
    in this browser only."""
    app, goto = _app(runtime, platform), safe_next(next)
    return await to_platform(
        app.label,
        request,
        lambda browser: runtime.oauth_signin.authorize_url(app, browser, goto),
        cookie_path=OAUTH_COOKIE_PATH,
    )


@router.get("/login/{platform}/callback")
async def oauth_callback(
    request: Request,
    platform: str,
    runtime: Services,
    code: Annotated[str, Query(max_length=512)] = "",
    state: Annotated[str, Query(max_length=4096)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
    error_description: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    app = _app(runtime, platform)
    if error:
        message = f"{app.label} did not sign you in: {error_description or error}."
        return _login_page(request, 400, errors={"form": message})
    if not (code and state):
        message = f"The way back from {app.label} was incomplete: start again."
        return _login_page(request, 400, errors={"form": message})
    browser = browser_of(app.label, request)
    try:
        signed = await runtime.oauth_signin.complete(app, code, state, browser)
    except UnknownAccount as exc:
        return page(request, "unknown_account.html", 403, app=app, account=exc.account)
    except ConnectError as exc:
        return _login_page(request, 400, errors={"form": _sentence(exc)})
    runtime.audit.record(
        "account.login",
        decision="allow",
        actor=f"user:{signed.user_id}",
        detail={"method": app.platform, "account": signed.account.platform_user_id},
    )
    token = await runtime.accounts.start_session(signed.user_id)
    return await _signed_in(request, runtime, token, signed.next)


@router.post("/login")
async def login(
    request: Request, runtime: Services, email: Text = "", password: Text = "", next: Text = "/"
) -> Response:
    goto = safe_next(next)
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = "Give your email address."
    if not password:
        errors["password"] = "Give your password."  # noqa: S105 - a message, not a password
    if errors:
        return _login_page(request, 400, next=goto, email=email, errors=errors)
    address = request.client.host if request.client else "unknown"
    try:
        token = await runtime.accounts.login(email, password, address)
    except LoginThrottled as exc:
        message = f"Too many failed sign-ins: try again in {exc.retry_after} seconds."
        return _login_page(request, 429, next=goto, email=email, errors={"form": message})
    except AccountError as exc:
        errors = {"password": _sentence(exc)}
        return _login_page(request, 400, next=goto, email=email, errors=errors)
    return await _signed_in(request, runtime, token, goto)


def _signed_out(request: Request) -> Response:
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    set_cookie(request, response, CSRF_COOKIE, renew_csrf(request), None)
    return response


@router.post("/logout")
async def logout(request: Request, runtime: Services) -> Response:
    await runtime.accounts.logout(request.cookies.get(SESSION_COOKIE, ""))
    return _signed_out(request)


# ----- the account page ---------------------------------------------------------------------


async def _account_page(
    request: Request, runtime: Services, person: Any, status_code: int = 200, **context: Any
) -> Response:
    values: dict[str, Any] = {
        "identities": await runtime.identity.identities(person.user_id),
        "keys": await runtime.identity.keys(person.user_id),
        "sessions": await runtime.accounts.session_count(person.user_id),
        "key_days": KEY_DAYS,
        "errors": {},
        "form": {},
        "new_key": None,
        "notice": "",
    }
    values.update(context)
    return page(request, "account.html", status_code, **values)


@router.get("/account")
async def account(request: Request, person: SignedIn, runtime: Services) -> Response:
    return await _account_page(request, runtime, person)


@router.post("/account/keys")
async def create_key(
    request: Request,
    person: SignedIn,
    runtime: Services,
    name: Text = "",
    scope: Text = "write",
    days: Text = "90",
) -> Response:
    form = {"name": name, "scope": scope, "days": days}
    errors: dict[str, str] = {}
    if not 1 <= len(name.strip()) <= 100:
        errors["name"] = "Give the key a name of 1 to 100 characters."
    if scope not in KEY_SCOPES:
        errors["scope"] = "Choose what the key may do."
    if not (days.isdigit() and int(days) in KEY_DAYS):
        errors["days"] = "Choose how long the key works."
    if not errors:
        try:
            info, secret = await runtime.identity.create_key(
                person.user_id,
                name,
                KEY_SCOPES[scope],
                datetime.now(UTC) + timedelta(days=int(days)),
                actor=person.actor,
            )
        except WaddleError as exc:
            errors["name"] = _sentence(exc)
        else:
            return await _account_page(request, runtime, person, new_key=(info, secret))
    return await _account_page(request, runtime, person, 400, errors=errors, form=form)


@router.post("/account/keys/revoke")
async def revoke_key(
    request: Request, person: SignedIn, runtime: Services, name: Text = ""
) -> Response:
    key_id = await runtime.identity.revoke_key(person.user_id, name, actor=person.actor)
    if key_id is not None:
        runtime.keys.forget(key_id)
    if request.headers.get("hx-request"):  # the row goes; the rest of the page stays
        return page(request, "revoked.html", name=name, revoked=key_id is not None)
    notice = f"Revoked the key {name!r}." if key_id else f"You have no key named {name!r}."
    return await _account_page(request, runtime, person, notice=notice)


@router.post("/account/sessions/end")
async def sign_out_everywhere(request: Request, person: SignedIn, runtime: Services) -> Response:
    await runtime.accounts.sign_out_everywhere(person.user_id, person.actor)
    return _signed_out(request)


@router.post("/account/login")
async def set_login(
    request: Request, person: SignedIn, runtime: Services, email: Text = "", password: Text = ""
) -> Response:
    try:
        await runtime.accounts.set_login(person.user_id, email, password)
    except AccountError as exc:
        errors = {exc.field or "email": _sentence(exc)}
        form = {"email": email}
        return await _account_page(request, runtime, person, 400, errors=errors, form=form)
    return await _account_page(request, runtime, person, notice="Your email and password are set.")
