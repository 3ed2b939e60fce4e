"""Helix endpoints that talk: Send Chat Message, Send Whisper, Send a Shoutout, each with the
limits Twitch applies to them."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .helix_gate import HelixGate, missing_scope
from .limits import SlidingWindow
from .model import ChatRecord, ShoutoutRecord, Token, TwitchState, WhisperRecord
from .wire import helix_error, new_uuid

CHAT_MAX_CHARS = 500
CHAT_WINDOW = 30.0
CHAT_LIMIT = 20
CHAT_LIMIT_PRIVILEGED = 100  # sender is the broadcaster or a moderator of the channel
DUPLICATE_WINDOW = 30.0

WHISPER_MAX_CHARS = 10_000
WHISPER_MAX_CHARS_NEW_RECIPIENT = 500
WHISPER_UNIQUE_RECIPIENTS_PER_DAY = 40

SHOUTOUT_COOLDOWN = 120.0
SHOUTOUT_SAME_TARGET_COOLDOWN = 3600.0

DROP_MESSAGES = {
    "msg_ratelimit": "Your message was not sent because you are sending messages too quickly.",
    "msg_duplicate": (
        "Your message was not sent because it is identical to the previous one you sent, "
        "less than 30 seconds ago."
    ),
    "msg_subsonly": "This room is in subscribers-only mode.",
    "msg_followersonly": "This room is in followers-only mode.",
    "msg_emoteonly": "This room is in emote-only mode.",
    "msg_slowmode": "This room is in slow mode and you are sending messages too quickly.",
    "msg_banned": "You are permanently banned from talking in this channel.",
    "channel_banned": "You are permanently banned from talking in this channel.",
    "automod_blocked": "Your message is being checked by mods and has not been sent.",
}


def drop_reason(code: str, message: str | None = None) -> dict[str, str]:
    return {
        "code": code,
        "message": message or DROP_MESSAGES.get(code, "Your message was not sent."),
    }


async def _json_body(request: Request) -> dict[str, Any] | Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return helix_error(400, "The request body is not valid JSON")
    if not isinstance(body, dict):
        return helix_error(400, "The request body must be a JSON object")
    return body


class HelixChat:
    def __init__(self, state: TwitchState) -> None:
        self.state = state
        self.on_chat_sent: Callable[[ChatRecord], None] = lambda record: None
        self.on_whisper_sent: Callable[[WhisperRecord], None] = lambda record: None
        self.violations: list[ChatRecord] = []  # messages dropped for exceeding the chat limit
        self._drop_next: deque[dict[str, str]] = deque()
        self._drop_in: dict[str, dict[str, str]] = {}
        self._chat_window = SlidingWindow(CHAT_LIMIT, CHAT_WINDOW)
        self._last_text: dict[tuple[str, str], tuple[str, float]] = {}
        self._whisper_second = SlidingWindow(3, 1.0)
        self._whisper_minute = SlidingWindow(100, 60.0)
        self._whisper_recipients: dict[str, dict[str, float]] = {}
        self._whispered: set[tuple[str, str]] = set()  # (from, to) pairs that have ever whispered

    def routes(self, gate: HelixGate) -> list[Route]:
        return [
            gate.route("/chat/messages", self.chat_message, ["POST"]),
            gate.route("/whispers", self.whisper, ["POST"]),
            gate.route("/chat/shoutouts", self.shoutout, ["POST"]),
        ]

    # --- test controls ---------------------------------------------------------------------

    def drop_next(self, code: str, message: str | None = None, count: int = 1) -> None:
        self._drop_next.extend(drop_reason(code, message) for _ in range(count))

    def drop_in(self, channel_id: str, code: str | None, message: str | None = None) -> None:
        if code is None:
            self._drop_in.pop(channel_id, None)
        else:
            self._drop_in[channel_id] = drop_reason(code, message)

    def mark_whispered(self, from_user_id: str, to_user_id: str) -> None:
        self._whispered.add((from_user_id, to_user_id))

    # --- Send Chat Message ---------------------------------------------------------------------

    def _sender_allowed(self, token: Token, broadcaster_id: str, sender_id: str) -> Response | None:
        if token.user_id is not None:
            if problem := missing_scope(token, "user:write:chat"):
                return problem
            if token.user_id != sender_id:
                return helix_error(403, "The sender_id must match the user ID in the access token")
            return None
        # An app token speaks for a bot account that granted user:bot, in a channel that granted
        # channel:bot or where the bot is a moderator.
        sender_grants = self.state.granted(token.client_id, sender_id)
        if not {"user:write:chat", "user:bot"} <= sender_grants:
            return helix_error(403, "The sender has not authorized the app with user:bot")
        channel_ok = "channel:bot" in self.state.granted(token.client_id, broadcaster_id)
        if not channel_ok and not self.state.user(sender_id).can_moderate(broadcaster_id):
            return helix_error(403, "The app is not allowed to send chat in this channel")
        return None

    def _why_dropped(
        self, channel: str, sender: str, text: str, now: float
    ) -> dict[str, str] | None:
        if self._drop_next:
            return self._drop_next.popleft()
        if channel in self._drop_in:
            return self._drop_in[channel]
        privileged = self.state.user(sender).can_moderate(channel)
        last = self._last_text.get((sender, channel))
        # Broadcasters and moderators are exempt from the duplicate-message check.
        if not privileged and last and last[0] == text and now - last[1] < DUPLICATE_WINDOW:
            return drop_reason("msg_duplicate")
        # Twitch counts a sender's messages per 30 s; the collector's contract is per channel, so
        # the window here is keyed by (sender, channel), with the moderator allowance per channel.
        limit = CHAT_LIMIT_PRIVILEGED if privileged else CHAT_LIMIT
        if not self._chat_window.allows((sender, channel), now, limit):
            return drop_reason("msg_ratelimit")
        return None

    async def chat_message(self, request: Request, token: Token) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        for key in ("broadcaster_id", "sender_id", "message"):
            if not isinstance(body.get(key), str) or not body[key]:
                return helix_error(400, f'Missing required parameter "{key}"')
        channel, sender, text = body["broadcaster_id"], body["sender_id"], body["message"]
        parent = body.get("reply_parent_message_id")
        if len(text) > CHAT_MAX_CHARS:
            return helix_error(400, f"The message may not exceed {CHAT_MAX_CHARS} characters")
        if problem := self._sender_allowed(token, channel, sender):
            return problem
        if parent is not None and self.state.chat_messages.get(parent) != channel:
            # Twitch refuses a reply to anything but a chat message of that channel (a follow
            # notification's id, a whisper's id...)
            return helix_error(400, "The reply parent message ID is not valid")
        now = self.state.clock()
        reason = self._why_dropped(channel, sender, text, now)
        record = ChatRecord(new_uuid(), channel, sender, text, parent, now, reason is None, reason)
        self.state.chat_log.append(record)
        if reason is None:
            self.state.chat_messages[record.message_id] = channel
            self._chat_window.record((sender, channel), now)
            self._last_text[(sender, channel)] = (text, now)
            self.on_chat_sent(record)
        elif reason["code"] == "msg_ratelimit":
            self.violations.append(record)
        result: dict[str, Any] = {
            "message_id": record.message_id if reason is None else "",
            "is_sent": reason is None,
            "drop_reason": reason,
        }
        return JSONResponse({"data": [result]})

    # --- Send Whisper --------------------------------------------------------------------------

    async def whisper(self, request: Request, token: Token) -> Response:
        sender = request.query_params.get("from_user_id", "")
        recipient = request.query_params.get("to_user_id", "")
        if not sender or not recipient:
            return helix_error(400, "from_user_id and to_user_id are required")
        if token.user_id is None:
            return helix_error(401, "This endpoint requires a user access token")
        if problem := missing_scope(token, "user:manage:whispers"):
            return problem
        if token.user_id != sender:
            return helix_error(401, "from_user_id must match the user ID in the access token")
        if sender == recipient:
            return helix_error(400, "A user cannot whisper themself")
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        text = body.get("message")
        if not isinstance(text, str) or not text:
            return helix_error(400, 'Missing required parameter "message"')
        if len(text) > WHISPER_MAX_CHARS:
            return helix_error(400, f"The message may not exceed {WHISPER_MAX_CHARS} characters")
        now = self.state.clock()
        recipients = self._whisper_recipients.setdefault(sender, {})
        for known, at in list(recipients.items()):
            if at <= now - 86_400:
                del recipients[known]
        if recipient not in recipients and len(recipients) >= WHISPER_UNIQUE_RECIPIENTS_PER_DAY:
            return helix_error(429, "The sender may whisper at most 40 unique recipients per day")
        if not self._whisper_second.allows(sender, now) or not self._whisper_minute.allows(
            sender, now
        ):
            return helix_error(429, "The sender has exceeded the number of whispers it may send")
        # Longer text to someone who never whispered the sender is cut, not refused.
        if (recipient, sender) not in self._whispered:
            text = text[:WHISPER_MAX_CHARS_NEW_RECIPIENT]
        self._whisper_second.record(sender, now)
        self._whisper_minute.record(sender, now)
        recipients[recipient] = now
        self._whispered.add((sender, recipient))
        record = WhisperRecord(sender, recipient, text, now)
        self.state.whispers.append(record)
        self.on_whisper_sent(record)
        return Response(status_code=204)

    # --- Send a Shoutout -----------------------------------------------------------------------

    async def shoutout(self, request: Request, token: Token) -> Response:
        params = request.query_params
        source = params.get("from_broadcaster_id", "")
        target = params.get("to_broadcaster_id", "")
        moderator = params.get("moderator_id", "")
        if not source or not target or not moderator:
            return helix_error(
                400, "from_broadcaster_id, to_broadcaster_id and moderator_id are required"
            )
        if token.user_id is None:
            return helix_error(401, "This endpoint requires a user access token")
        if problem := missing_scope(token, "moderator:manage:shoutouts"):
            return problem
        if token.user_id != moderator:
            return helix_error(401, "moderator_id must match the user ID in the access token")
        if not self.state.user(moderator).can_moderate(source):
            return helix_error(
                403, "The user in moderator_id is not one of the broadcaster's moderators"
            )
        if source == target:
            return helix_error(400, "The broadcaster may not give themselves a Shoutout")
        if source not in self.state.streams:
            return helix_error(400, "The broadcaster is not streaming live")
        now = self.state.clock()
        mine = [s for s in self.state.shoutouts if s.from_broadcaster_id == source]
        if mine and now - mine[-1].at < SHOUTOUT_COOLDOWN:
            return helix_error(
                429, "The broadcaster may send a Shoutout at most once every 2 minutes"
            )
        if any(
            s.to_broadcaster_id == target and now - s.at < SHOUTOUT_SAME_TARGET_COOLDOWN
            for s in mine
        ):
            return helix_error(
                429, "The broadcaster may shout out the same user once every 60 minutes"
            )
        self.state.shoutouts.append(ShoutoutRecord(source, target, moderator, now))
        return Response(status_code=204)
