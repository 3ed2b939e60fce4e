"""``chat.postMessage`` and ``chat.postEphemeral`` with a bot token: Slack's checks (the
conversation exists, is not archived, has the bot in it; text or blocks are there and not too
long) and, when switched on, the per-channel message limit."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import wire
from .model import Channel, PostedMessage, SlackState
from .objects import posted_message
from .ratelimit import PerKeyBucket
from .web_api import ApiError, ApiRequest, RateLimited, WebApi


class ChatApi:
    def __init__(self, state: SlackState, on_posted: Callable[[PostedMessage], None]) -> None:
        self.state = state
        self.on_posted = on_posted
        self.limiter: PerKeyBucket | None = None  # None: chat.postMessage is never limited

    def register(self, api: WebApi) -> None:
        api.register("chat.postMessage", self.post_message, tokens=("bot",))
        api.register("chat.postEphemeral", self.post_ephemeral, tokens=("bot",))

    def _conversation(self, request: ApiRequest) -> Channel:
        team = request.team
        channel = self.state.resolve_channel(
            team.id, request.require("channel", "channel_not_found")
        )
        if channel is None:
            raise ApiError("channel_not_found")
        if channel.archived:
            raise ApiError("is_archived")
        if team.bot_user_id not in channel.members:
            raise ApiError("not_in_channel")
        return channel

    @staticmethod
    def _content(request: ApiRequest) -> tuple[str, list[Any] | None]:
        text = request.arg("text")
        blocks = request.params.get("blocks")
        if isinstance(blocks, str):  # a form body carries blocks as a JSON string
            try:
                blocks = json.loads(blocks) if blocks else None
            except ValueError:
                raise ApiError("invalid_blocks_format") from None
        if not text and not blocks and not request.params.get("attachments"):
            raise ApiError("no_text")
        if len(text) > wire.MAX_MESSAGE_CHARS:
            raise ApiError("msg_too_long")
        return text, blocks

    def _thread(self, channel: Channel, thread_ts: str | None) -> tuple[str | None, str | None]:
        """(thread root ts, its author): a reply to a reply joins the root's thread."""
        if not thread_ts:
            return None, None
        parent = channel.find_message(thread_ts)
        if parent is None:
            return thread_ts, None
        return parent.get("thread_ts", thread_ts), parent.get("user")

    async def post_message(self, request: ApiRequest) -> dict[str, Any]:
        team = request.team
        channel = self._conversation(request)
        text, blocks = self._content(request)
        if self.limiter is not None:
            retry_after = self.limiter.take((team.id, channel.id))
            if retry_after is not None:
                raise RateLimited(retry_after)
        thread_ts, parent_user = self._thread(channel, request.arg("thread_ts") or None)
        message = PostedMessage(
            channel=channel.id,
            team_id=team.id,
            ts=self.state.next_ts(),
            text=text,
            user=team.bot_user_id,
            bot_id=team.bot_id,
            thread_ts=thread_ts,
            reply_broadcast=thread_ts is not None and request.flag("reply_broadcast"),
            mrkdwn=wire.truthy(request.params.get("mrkdwn", True)),
            blocks=blocks,
        )
        shown = posted_message(message, team.bot, parent_user)
        channel.history.append({**shown, "channel": channel.id})
        self.state.record_posted(message)
        self.on_posted(message)
        return {"channel": channel.id, "ts": message.ts, "message": shown}

    async def post_ephemeral(self, request: ApiRequest) -> dict[str, Any]:
        team = request.team
        channel = self._conversation(request)
        user_id = request.require("user", "user_not_in_channel")
        if user_id not in channel.members:
            raise ApiError("user_not_in_channel")
        text, blocks = self._content(request)
        thread_ts, _ = self._thread(channel, request.arg("thread_ts") or None)
        message = PostedMessage(
            channel=channel.id,
            team_id=team.id,
            ts=self.state.next_ts(),
            text=text,
            user=team.bot_user_id,
            bot_id=team.bot_id,
            thread_ts=thread_ts,
            ephemeral_to=user_id,
            blocks=blocks,
            source="chat.postEphemeral",
        )
        self.state.record_posted(message)
        return {"message_ts": message.ts}
