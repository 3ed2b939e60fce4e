"""The REST half's plumbing: one Starlette route under ``/api/v10`` that matches Discord's route
templates itself, so every request passes the same gate: ``Authorization: Bot <token>``, the
global limit, the route's bucket, the ``X-RateLimit-*`` headers on the answer, and the count of
invalid requests (401, 403 and 429 but shared-scope ones), as Discord counts them."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import wire
from .model import DiscordState
from .ratelimit import RateLimits

MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "interaction_id")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
BODY_METHODS = {"POST", "PUT", "PATCH"}
BEARER_ROUTES = {"GET /users/@me"}  # what a person's ``identify`` token may read (oauth2.py)


class BadBody(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass
class Call:
    """One REST request as a handler sees it."""

    request: Request
    route: str  # "POST /channels/{channel_id}/messages"
    params: dict[str, str]
    raw: bytes
    files: list[str] = field(default_factory=list)  # names of uploaded files (multipart)
    _json: Any = None
    _parsed: bool = False

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.query_params)

    def json(self) -> Any:
        """The JSON body (or a multipart body's ``payload_json``); raises ``BadBody`` with
        Discord's answer when it is missing or broken."""
        if self._parsed:
            return self._json
        content_type = self.request.headers.get("content-type", "")
        media = content_type.split(";")[0].strip().lower()
        if media == "application/json":
            try:
                self._json = json.loads(self.raw) if self.raw else None
            except ValueError:
                raise BadBody(
                    wire.discord_error(400, "The request body contains invalid JSON.", 50109)
                ) from None
        elif media in ("multipart/form-data", "application/x-www-form-urlencoded"):
            # py-cord sends interaction responses as a form with a ``payload_json`` field:
            # url-encoded without files, multipart with them.
            parts = (
                parse_multipart(content_type, self.raw)
                if media == "multipart/form-data"
                else {k: v[-1].encode() for k, v in parse_qs(self.raw.decode("utf-8")).items()}
            )
            self.files = [name for name in parts if name.startswith("files[")]
            payload = parts.get("payload_json")
            try:
                self._json = json.loads(payload) if payload else {}
            except ValueError:
                raise BadBody(
                    wire.discord_error(400, "The request body contains invalid JSON.", 50109)
                ) from None
        elif self.raw:
            expected = (
                'Expected "Content-Type" header to be one of '
                "{'application/json', 'application/x-www-form-urlencoded', "
                "'multipart/form-data'}."
            )
            raise BadBody(
                wire.invalid_form_body(wire.field_errors("", "CONTENT_TYPE_INVALID", expected))
            )
        else:
            self._json = None
        self._parsed = True
        return self._json

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise BadBody(
                wire.invalid_form_body(
                    wire.field_errors(
                        "", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
                    )
                )
            )
        return body


Handler = Callable[[Call], Awaitable[Response]]


@dataclass
class Spec:
    method: str
    template: str
    handler: Handler
    auth: bool  # needs Authorization: Bot <token>
    global_limited: bool
    pattern: re.Pattern[str]

    @property
    def route(self) -> str:
        return f"{self.method} {self.template}"


@dataclass
class Logged:
    """One REST request the fake answered."""

    method: str
    path: str
    route: str | None
    status: int
    body: Any
    at: float
    headers: dict[str, str]
    query: dict[str, str]


def parse_multipart(content_type: str, raw: bytes) -> dict[str, bytes]:
    """``multipart/form-data`` fields by name, parsed with the standard library."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


def _compile(template: str) -> re.Pattern[str]:
    out = ""
    for piece in re.split(r"(\{[a-z_]+\})", template):
        if piece.startswith("{"):
            out += f"(?P<{piece[1:-1]}>[^/]+)"
        else:
            out += re.escape(piece)
    return re.compile(f"^{out}$")


class RestApi:
    def __init__(self, state: DiscordState, limits: RateLimits) -> None:
        self.state = state
        self.limits = limits
        self.specs: list[Spec] = []
        self.log: list[Logged] = []
        self.invalid: list[Logged] = []  # 401, 403 and 429 (not shared), as Discord counts
        self.rate_limited: list[Logged] = []  # every 429

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        auth: bool = True,
        global_limited: bool = True,
    ) -> None:
        self.specs.append(Spec(method, template, handler, auth, global_limited, _compile(template)))

    def starlette_routes(self) -> list[Route]:
        return [Route("/api/v10/{path:path}", self.endpoint, methods=METHODS)]

    def _match(self, method: str, path: str) -> tuple[Spec | None, dict[str, str], bool]:
        """The spec, its path parameters, and whether the path exists for another method."""
        path_known = False
        for spec in self.specs:
            found = spec.pattern.match(path)
            if found is None:
                continue
            if spec.method == method:
                return spec, found.groupdict(), True
            path_known = True
        return None, {}, path_known

    def authorized(self, request: Request, spec: Spec) -> bool:
        given = request.headers.get("authorization", "")
        if spec.route in BEARER_ROUTES and self.state.bearer_user(given):
            return True
        return given == f"Bot {self.state.token}"

    async def endpoint(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        raw = await request.body()
        spec, params, path_known = self._match(request.method, path)
        scope: str | None = None
        if spec is None:
            response: Response = (
                wire.discord_error(405, "405: Method Not Allowed")
                if path_known
                else wire.discord_error(404, "404: Not Found")
            )
        elif spec.auth and not self.authorized(request, spec):
            response = wire.discord_error(401, "401: Unauthorized")
        else:
            major = ":".join(params.get(k, "") for k in MAJOR_PARAMETERS)
            if "webhook_token" in params or "interaction_token" in params:
                major += ":" + params.get("webhook_token", params.get("interaction_token", ""))
            decision = self.limits.check(
                spec.route, major, global_applies=spec.auth and spec.global_limited
            )
            if decision.status is not None:
                response = JSONResponse(decision.body, status_code=decision.status)
                scope = decision.scope
            else:
                call = Call(request, spec.route, params, raw)
                try:
                    response = await spec.handler(call)
                except BadBody as bad:
                    response = bad.response
            response.headers.update(decision.headers)
        response.headers["Via"] = "1.1 google"  # Discord is behind Google's front end
        self._record(request, path, spec, raw, response, scope)
        return response

    def _record(
        self,
        request: Request,
        path: str,
        spec: Spec | None,
        raw: bytes,
        response: Response,
        scope: str | None,
    ) -> None:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in {"user-agent", "content-type", "x-audit-log-reason"}
        }
        headers["authorization"] = "present" if request.headers.get("authorization") else ""
        entry = Logged(
            request.method,
            path,
            spec.route if spec else None,
            response.status_code,
            body,
            self.state.clock(),
            headers,
            dict(request.query_params),
        )
        self.log.append(entry)
        if response.status_code == 429:
            self.rate_limited.append(entry)
        if response.status_code in (401, 403) or (
            response.status_code == 429 and scope != "shared"
        ):
            self.invalid.append(entry)


def ok(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)
