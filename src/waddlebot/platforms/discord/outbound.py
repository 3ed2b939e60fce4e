"""Replies to Discord: the ``replies.discord`` stream sent through py-cord's REST client,
which keeps Discord's rate limits itself (a bucket per route from the ``X-RateLimit-*``
headers, the global limit, and waiting out a 429's ``retry_after``).

Channel replies go to the channel, as a reply to the message they answer; private ones as a
DM; the answer to a slash command was given inline by the process that took it, or, when that
one deferred it, goes as the interaction's follow-up (:mod:`.answers`). Mentions are safe by
default: a reply may ping the person it answers, never ``@everyone`` or a role because of what
a user typed. Messages over 2,000 characters are split on word boundaries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import discord
import structlog

from waddlebot.core.contract import OutboundMessage, Visibility
from waddlebot.infra import metrics
from waddlebot.infra.ports import Bus
from waddlebot.platforms.answering import INLINE, PENDING, AnswerState, AnswerStates
from waddlebot.platforms.discord.answers import CHANNEL_MESSAGE, MAX_LENGTH, SAFE_MENTIONS
from waddlebot.platforms.reply_stream import ReplyStream
from waddlebot.platforms.split import SentParts, split_message

log = structlog.get_logger("waddlebot.discord.outbound")

PLATFORM = "discord"
PRIVATE_NOTE = "I sent you the answer by private message."
UNKNOWN_WEBHOOK = 10015  # a follow-up before Discord has taken the deferral
FOLLOWUP_RETRIES = (0.25, 0.5, 1.0)
FORBIDDEN_PAUSE = 600.0  # after a 401/403 somewhere, nothing is tried there for 10 minutes


class DiscordOutbound:
    def __init__(
        self,
        bus: Bus,
        http: Callable[[], discord.http.HTTPClient],
        states: AnswerStates,
        *,
        consumer: str,
        settle_wait: float = 3.0,
    ) -> None:
        self._http = http
        self._states = states
        self._settle_wait = settle_wait
        self._forbidden: dict[str, float] = {}  # channel or DM target -> refused until
        self._parts = SentParts()
        # a lane per channel (or DM): one waiting out a 429, or a slash command's decision,
        # holds up no other
        self._replies = ReplyStream(bus, PLATFORM, self._deliver, consumer=consumer, lane=_target)

    async def start(self) -> None:
        await self._replies.start()

    async def stop(self) -> None:
        await self._replies.stop()

    async def _deliver(self, message: OutboundMessage) -> None:
        target = _target(message)
        if self._forbidden.get(target, 0.0) > time.monotonic():
            log.warning(
                "discord reply not sent: the bot was refused there a moment ago",
                outbound_id=message.outbound_id,
                target=target,
            )
            metrics.DELIVERED.labels(PLATFORM, "refused").inc()
            return
        try:
            await self.send(message)
        except discord.HTTPException as exc:
            log.error(
                "discord refused a reply",
                outbound_id=message.outbound_id,
                status=exc.status,
                code=exc.code,
                error=exc.text,
            )
            metrics.DELIVERED.labels(PLATFORM, "refused").inc()
            if exc.status in (401, 403):  # invalid requests: Discord bans bots that repeat them
                now = time.monotonic()
                self._forbidden = {t: u for t, u in self._forbidden.items() if u > now}
                self._forbidden[target] = now + FORBIDDEN_PAUSE
            return
        metrics.DELIVERED.labels(PLATFORM, "sent").inc()

    async def send(self, message: OutboundMessage) -> None:
        http = self._http()
        chunks = split_message(message.text, MAX_LENGTH)
        interaction = (
            await self._states.settled(message.reply_to, self._settle_wait)
            if message.reply_to
            else None
        )
        private = message.visibility is not Visibility.CHANNEL
        if interaction is not None:  # the answer to a slash command
            await self._answer_interaction(http, message, interaction, chunks, private=private)
            return
        if private:
            await self._direct(http, message, chunks)
            return

        async def to_channel(index: int, chunk: str) -> None:
            reference: Any = None  # a MessageReference TypedDict
            if index == 0 and message.reply_to:
                reference = {"message_id": message.reply_to, "fail_if_not_exists": False}
            await http.send_message(
                message.channel_id,
                chunk,
                allowed_mentions=SAFE_MENTIONS,
                message_reference=reference,
            )

        await self._parts.send(message.outbound_id, chunks, to_channel)

    async def _answer_interaction(
        self,
        http: discord.http.HTTPClient,
        message: OutboundMessage,
        interaction: AnswerState,
        chunks: list[str],
        *,
        private: bool,
    ) -> None:
        if interaction.state == INLINE:  # given in the first response already
            return
        if private:  # a DM keeps it private; the command's answer says where it went
            await self._direct(http, message, chunks)
            chunks = [PRIVATE_NOTE]
        if interaction.state == PENDING:  # the process that took it is gone undecided
            chunks = await self._respond_late(http, message.reply_to, interaction, chunks)
        await self._parts.send(
            f"{message.outbound_id}:followup",
            chunks,
            lambda _, chunk: self._followup(http, interaction, chunk),
        )

    async def _respond_late(
        self,
        http: discord.http.HTTPClient,
        interaction_id: str,
        interaction: AnswerState,
        chunks: list[str],
    ) -> list[str]:
        """The first chunk as the first response, if Discord still takes one; what is left."""
        data: Any = {"content": chunks[0], "allowed_mentions": SAFE_MENTIONS}
        try:
            await http.create_interaction_response(
                interaction_id,
                interaction.data["token"],
                type=CHANNEL_MESSAGE,  # type: ignore[arg-type]
                data=data,
            )
        except discord.HTTPException as exc:
            log.warning("late first response refused", status=exc.status, error=exc.text)
            return chunks
        return chunks[1:]

    async def _followup(
        self, http: discord.http.HTTPClient, interaction: AnswerState, chunk: str
    ) -> None:
        """A follow-up, retried briefly while Discord has not yet taken the deferral (an HTTP
        endpoint's deferral travels back with its response, after the state says deferred)."""
        for delay in (*FOLLOWUP_RETRIES, None):
            try:
                await http.create_followup_message(
                    interaction.data["application_id"],
                    interaction.data["token"],
                    files=[],
                    content=chunk,
                    allowed_mentions=SAFE_MENTIONS,
                )
                return
            except discord.NotFound as exc:
                if delay is None or exc.code != UNKNOWN_WEBHOOK:
                    raise
                await asyncio.sleep(delay)

    async def _direct(
        self, http: discord.http.HTTPClient, message: OutboundMessage, chunks: list[str]
    ) -> None:
        opened = await http.start_private_message(int(message.to_user))
        await self._parts.send(
            f"{message.outbound_id}:dm",
            chunks,
            lambda _, chunk: http.send_message(
                str(opened["id"]), chunk, allowed_mentions=SAFE_MENTIONS
            ),
        )


def _target(message: OutboundMessage) -> str:
    """Where a reply goes, as far as Discord's refusals go: a DM's user, else the channel."""
    if message.visibility is not Visibility.CHANNEL:
        return f"user:{message.to_user}"
    return f"channel:{message.channel_id}"
