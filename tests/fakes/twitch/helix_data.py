"""Read-only Helix endpoints: Get Users, Get Streams, Get Clips, Get Channel Information."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .helix_gate import HelixGate
from .model import Token, TwitchState
from .pagination import BadPage, page
from .wire import helix_error


class HelixData:
    def __init__(self, state: TwitchState) -> None:
        self.state = state

    def routes(self, gate: HelixGate) -> list[Route]:
        return [
            gate.route("/users", self.users, ["GET"]),
            gate.route("/streams", self.streams, ["GET"]),
            gate.route("/clips", self.clips, ["GET"]),
            gate.route("/channels", self.channels, ["GET"]),
        ]

    async def channels(self, request: Request, token: Token) -> Response:
        ids = request.query_params.getlist("broadcaster_id")
        if not ids:
            return helix_error(400, 'Missing required parameter "broadcaster_id"')
        if len(ids) > 100:
            return helix_error(400, "You may specify at most 100 broadcaster_id parameters")
        found = [self.state.users[i].channel() for i in ids if i in self.state.users]
        return JSONResponse({"data": found})

    async def users(self, request: Request, token: Token) -> Response:
        ids = request.query_params.getlist("id")
        logins = [login.lower() for login in request.query_params.getlist("login")]
        if len(ids) + len(logins) > 100:
            return helix_error(
                400, "The combined number of id and login parameters may not exceed 100"
            )
        if not ids and not logins:
            if token.user_id is None:
                return helix_error(400, "Must provide an ID, Login or OAuth Token")
            ids = [token.user_id]
        found = [u for u in self.state.users.values() if u.id in ids or u.login in logins]
        return JSONResponse({"data": [u.helix() for u in found]})

    async def streams(self, request: Request, token: Token) -> Response:
        ids = set(request.query_params.getlist("user_id"))
        logins = {login.lower() for login in request.query_params.getlist("user_login")}
        if len(ids) > 100 or len(logins) > 100:
            return helix_error(400, "You may specify at most 100 user_id or user_login parameters")
        live = [
            s
            for s in self.state.streams.values()
            if (not ids and not logins)
            or s.user_id in ids
            or self.state.user(s.user_id).login in logins
        ]
        live.sort(key=lambda s: -s.viewer_count)
        try:
            chunk, pagination = page(live, request.query_params)
        except BadPage as exc:
            return helix_error(400, str(exc))
        data = [s.helix(self.state.user(s.user_id)) for s in chunk]
        return JSONResponse({"data": data, "pagination": pagination})

    async def clips(self, request: Request, token: Token) -> Response:
        params = request.query_params
        given = [key for key in ("broadcaster_id", "game_id", "id") if key in params]
        if len(given) != 1:
            return helix_error(
                400, "You must specify exactly one of broadcaster_id, game_id, or id"
            )
        if given == ["id"]:
            ids = params.getlist("id")
            if len(ids) > 100:
                return helix_error(400, "You may specify at most 100 id parameters")
            chunk = [c for c in self.state.clips if c.id in ids]
            pagination: dict[str, object] = {}
        else:
            key = given[0]
            wanted = params[key]
            try:
                start, end = _period(params.get("started_at"), params.get("ended_at"))
            except ValueError:
                return helix_error(400, "started_at and ended_at must be RFC3339 timestamps")
            matching = [
                c
                for c in self.state.clips
                if getattr(c, key) == wanted and start <= c.created_at < end
            ]
            matching.sort(key=lambda c: -c.view_count)  # Twitch: most viewed first
            try:
                chunk, pagination = page(matching, params)
            except BadPage as exc:
                return helix_error(400, str(exc))
        data = [
            c.helix(
                self.state.user(c.broadcaster_id),
                self.state.user(c.creator_id) if c.creator_id else None,
            )
            for c in chunk
        ]
        return JSONResponse({"data": data, "pagination": pagination})


WEEK = 7 * 86_400.0


def _period(started_at: str | None, ended_at: str | None) -> tuple[float, float]:
    """The clips' creation window: Twitch ends it a week after ``started_at`` when
    ``ended_at`` is left out (and ignores ``ended_at`` alone)."""
    if not started_at:
        return float("-inf"), float("inf")
    start = datetime.fromisoformat(started_at).timestamp()
    end = datetime.fromisoformat(ended_at).timestamp() if ended_at else start + WEEK
    return start, end
