"""Replies to Discord: the ``replies.discord`` stream sent through py-cord's REST client,
which keeps Discord's rate limits itself (a bucket per route from the ``X-RateLimit-*``
headers, the global limit, and waiting out a 429's ``retry_after``).

Channel replies go to the channel, as a reply to the message they answer; private ones as a
DM; an answer to a slash command as the interaction's follow-up (the collector deferred it
at once, within Discord's 3 seconds). Mentions are safe by default: a reply may ping the
person it answers, never ``@everyone`` or a role because of what a user typed. Messages over
2,000 characters are split on word boundaries.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import discord
import structlog

from waddlebot.collectors.split import split_message
from waddlebot.core.contract import OutboundMessage, Visibility
from waddlebot.infra import metrics
from waddlebot.infra.codec import decode_outbound
from waddlebot.infra.ports import Bus
from waddlebot.infra.tasks import stop_task
from waddlebot.services.router import keys

log = structlog.get_logger("waddlebot.discord.outbound")

PLATFORM = "discord"
REPLIES = keys.replies_stream(PLATFORM)
GROUP = "discord"
MAX_LENGTH = 2000
PRIVATE_NOTE = "I sent you the answer by private message."
# never @everyone or a role because of what a user typed (py-cord types it as a TypedDict)
SAFE_MENTIONS: Any = {"parse": ["users"], "replied_user": True}
Interaction = tuple[str, str]  # (application id, token) of a deferred slash command
FindInteraction = Callable[[str], Awaitable[Interaction | None]]


class DiscordOutbound:
    def __init__(
        self,
        bus: Bus,
        http: Callable[[], discord.http.HTTPClient],
        interaction_of: FindInteraction,
        *,
        consumer: str,
    ) -> None:
        self._bus = bus
        self._http = http
        self._interaction_of = interaction_of
        self._consumer = consumer
        self._sent: OrderedDict[str, None] = OrderedDict()  # outbound ids already sent
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._bus.ensure_group(REPLIES, GROUP)
        self._task = asyncio.create_task(self._forever(), name="discord-replies")

    async def stop(self) -> None:
        await stop_task(self._task)

    async def _forever(self) -> None:
        while True:
            try:
                messages = await self._bus.read(REPLIES, GROUP, self._consumer, 50, 1000)
                if not messages:
                    messages = await self._bus.reclaim(REPLIES, GROUP, self._consumer, 30_000, 50)
                for message in messages:
                    await self._deliver(message.data)
                if messages:
                    await self._bus.ack(REPLIES, GROUP, [m.id for m in messages])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("discord delivery failed; retrying")
                await asyncio.sleep(0.5)

    async def _deliver(self, data: bytes) -> None:
        try:
            message = decode_outbound(data)
        except ValueError:
            log.error("malformed discord reply dropped")
            metrics.DELIVERED.labels(PLATFORM, "malformed").inc()
            return
        if message.outbound_id in self._sent:
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
            return
        self._sent[message.outbound_id] = None
        if len(self._sent) > 10_000:
            self._sent.popitem(last=False)
        metrics.DELIVERED.labels(PLATFORM, "sent").inc()

    async def send(self, message: OutboundMessage) -> None:
        http = self._http()
        chunks = split_message(message.text, MAX_LENGTH)
        interaction = await self._interaction_of(message.reply_to) if message.reply_to else None
        private = message.visibility is not Visibility.CHANNEL
        if interaction is not None:  # the answer to a slash command
            if private:  # a DM keeps it private; the command's answer says where it went
                await self._direct(http, message, chunks)
                chunks = [PRIVATE_NOTE]
            application_id, token = interaction
            for chunk in chunks:
                await http.create_followup_message(
                    application_id, token, files=[], content=chunk, allowed_mentions=SAFE_MENTIONS
                )
            return
        if private:
            await self._direct(http, message, chunks)
            return
        for index, chunk in enumerate(chunks):
            reference: Any = None  # a MessageReference TypedDict
            if index == 0 and message.reply_to:
                reference = {"message_id": message.reply_to, "fail_if_not_exists": False}
            await http.send_message(
                message.channel_id,
                chunk,
                allowed_mentions=SAFE_MENTIONS,
                message_reference=reference,
            )

    async def _direct(
        self, http: discord.http.HTTPClient, message: OutboundMessage, chunks: list[str]
    ) -> None:
        opened = await http.start_private_message(int(message.to_user))
        for chunk in chunks:
            await http.send_message(str(opened["id"]), chunk, allowed_mentions=SAFE_MENTIONS)
