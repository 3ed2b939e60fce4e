"""Who and where: ``auth.test``, ``users.info``, ``team.info``, ``conversations.info``,
``conversations.members`` (cursor-paginated) and ``conversations.open``."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .model import Channel, SlackState
from .objects import conversation_object, team_object, user_object
from .web_api import ApiError, ApiRequest, WebApi

MAX_IM_USERS = 8  # conversations.open: too_many_users beyond this


class LookupApi:
    def __init__(self, state: SlackState) -> None:
        self.state = state

    def register(self, api: WebApi) -> None:
        api.register("auth.test", self.auth_test)
        api.register("users.info", self.users_info)
        api.register("team.info", self.team_info)
        api.register("conversations.info", self.conversations_info)
        api.register("conversations.members", self.conversations_members)
        api.register("conversations.open", self.conversations_open)

    async def auth_test(self, request: ApiRequest) -> dict[str, Any]:
        team = request.team
        assert request.token is not None and request.token.user_id is not None
        user = self.state.users[request.token.user_id]
        answer: dict[str, Any] = {
            "url": team.url,
            "team": team.name,
            "user": user.name,
            "team_id": team.id,
            "user_id": user.id,
        }
        if request.token.kind == "bot":
            answer.update(bot_id=team.bot_id, is_enterprise_install=False)
        return answer

    async def users_info(self, request: ApiRequest) -> dict[str, Any]:
        user = self.state.team_user(request.team.id, request.require("user", "user_not_found"))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user_object(user)}

    async def team_info(self, request: ApiRequest) -> dict[str, Any]:
        team = request.team
        wanted = request.arg("team") or team.id
        if wanted != team.id:
            raise ApiError("team_not_found")
        return {"team": team_object(team)}

    def _visible(self, request: ApiRequest) -> Channel:
        """A conversation of the token's team that the bot may see: public ones always,
        private ones and IMs only as a member."""
        team = request.team
        channel = self.state.channels.get(request.require("channel", "channel_not_found"))
        if channel is None or channel.team_id != team.id:
            raise ApiError("channel_not_found")
        if channel.kind != "public" and team.bot_user_id not in channel.members:
            raise ApiError("channel_not_found")
        return channel

    async def conversations_info(self, request: ApiRequest) -> dict[str, Any]:
        channel = self._visible(request)
        obj = conversation_object(channel, request.team.bot_user_id)
        if request.flag("include_num_members") and channel.kind != "im":
            obj["num_members"] = len(channel.members)
        return {"channel": obj}

    async def conversations_members(self, request: ApiRequest) -> dict[str, Any]:
        channel = self._visible(request)
        try:
            limit = int(request.arg("limit", "100"))
        except ValueError:
            raise ApiError("invalid_limit") from None
        if not 1 <= limit <= 1000:
            raise ApiError("invalid_limit")
        start = _cursor_position(request.arg("cursor"), channel.members)
        page = channel.members[start : start + limit]
        more = start + limit < len(channel.members)
        next_cursor = _cursor(channel.members[start + limit]) if more else ""
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    async def conversations_open(self, request: ApiRequest) -> dict[str, Any]:
        team = request.team
        if request.arg("channel"):
            channel = self._visible(request)
            return {"channel": {"id": channel.id}}
        user_ids = [u.strip() for u in request.arg("users").split(",") if u.strip()]
        if not user_ids:
            raise ApiError("users_list_not_supplied")
        if len(user_ids) > MAX_IM_USERS:
            raise ApiError("too_many_users")
        if any(self.state.team_user(team.id, u) is None for u in user_ids):
            raise ApiError("user_not_found")
        if len(user_ids) > 1:
            raise ApiError("not_supported", detail="the fake opens one-to-one IMs only")
        channel, existed = self.state.open_im(team.id, user_ids[0])
        shown: dict[str, Any] = {"id": channel.id}
        if request.flag("return_im"):
            shown = conversation_object(channel, team.bot_user_id)
        answer: dict[str, Any] = {"channel": shown}
        if existed:
            answer = {"no_op": True, "already_open": True, **answer}
        return answer


def _cursor(user_id: str) -> str:
    """Slack's cursors are opaque base64, e.g. of ``user:U0G9QF9C6``."""
    return base64.b64encode(f"user:{user_id}".encode()).decode()


def _cursor_position(cursor: str, members: list[str]) -> int:
    if not cursor:
        return 0
    try:
        kind, _, user_id = base64.b64decode(cursor, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError("invalid_cursor") from None
    if kind != "user" or user_id not in members:
        raise ApiError("invalid_cursor")
    return members.index(user_id)
