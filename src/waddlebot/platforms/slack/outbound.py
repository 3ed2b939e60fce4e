"""Replies to Slack: the ``replies.slack`` stream sent through the Web API of the workspace
the reply belongs to.

- a channel reply with ``chat.postMessage``, in the thread of the message it answers when that
  one was in a thread; an ephemeral one with ``chat.postEphemeral``; a private one as a DM
  (``conversations.open``, then ``chat.postMessage``);
- the answer to a slash command was given in the command's response when it came in time;
  otherwise it goes to the command's ``response_url`` (ephemeral when private);
- text is escaped (``&``, ``<``, ``>``), so nothing a user typed becomes ``<!channel>`` or a
  mention, and split at 4,000 characters (what Slack advises);
- about one message a second per channel (short bursts allowed), as Slack asks; a 429 is
  waited out (its ``Retry-After``) by slack-sdk's retry handler. ``ok: false`` errors
  (``not_in_channel``, ``channel_not_found``, ...) are logged with what to do and counted,
  never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import structlog
from slack_sdk.errors import SlackApiError

from waddlebot.core.contract import OutboundMessage, Visibility
from waddlebot.infra import metrics
from waddlebot.infra.ports import Bus
from waddlebot.platforms.answering import INLINE, AnswerStates
from waddlebot.platforms.reply_stream import ReplyStream
from waddlebot.platforms.slack import SLACK
from waddlebot.platforms.slack.workspaces import Workspace, Workspaces
from waddlebot.platforms.split import SentParts, split_message

log = structlog.get_logger("waddlebot.slack.outbound")

PLATFORM = "slack"
MAX_LENGTH = SLACK.info.max_length
MAX_CHANNELS = 10_000  # paces remembered before the idle ones are forgotten
HINTS = {
    "not_in_channel": "invite the bot to the channel (/invite @bot)",
    "channel_not_found": "the channel is gone, or the bot cannot see it",
    "is_archived": "the channel is archived",
    "invalid_auth": "the workspace's token is not valid any more; install the app again",
    "account_inactive": "the workspace's token is not valid any more; install the app again",
    "token_revoked": "the workspace's token was revoked; install the app again",
    "missing_scope": "the app lacks a scope; install it again with the scopes in docs/slack.md",
}


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # when ``tokens`` was brought up to date
    sending: int = 0  # messages on their way that Slack has not answered yet


class ChannelPace:
    """About one message a second per channel with bursts of ``burst``: a token bucket per
    channel. Hand-written: it must *wait* for the next slot, not refuse (which is what the
    ``limits`` package offers).

    Slack counts a message when it arrives, which is some time after we send it and before
    its answer comes back; the time in between varies from message to message (the first one
    of a burst often opens the connection). So a message takes its token when Slack's answer
    comes back, the latest moment Slack can have counted it, and a message still on its way
    holds one meanwhile: however the trips vary, two messages never reach Slack closer
    together than the bucket allows. Counting from the moment of sending instead let a fast
    fourth message of a burst arrive less than a second after a slow first one: a 429."""

    def __init__(self, per_second: float = 1.0, burst: int = 3) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}

    def delay(self, channel: str, now: float) -> float:
        """How long to wait before sending to ``channel``. The message holds a token until
        :meth:`answered` is called for it (call it whether or not the send worked)."""
        bucket = self._buckets.get(channel)
        if bucket is None:
            if len(self._buckets) >= MAX_CHANNELS:
                self._forget_quiet(now)
            bucket = self._buckets[channel] = _Bucket(self._burst, now)
        available = self._level(bucket, now) - bucket.sending
        bucket.sending += 1
        return max(0.0, (1.0 - available) / self._rate)

    def answered(self, channel: str, now: float) -> None:
        """Slack answered a message to ``channel`` (or gave up on it) at ``now``."""
        bucket = self._buckets.get(channel)
        if bucket is None:
            return
        bucket.tokens, bucket.at = self._level(bucket, now) - 1.0, now
        bucket.sending = max(0, bucket.sending - 1)

    def _level(self, bucket: _Bucket, now: float) -> float:
        return min(self._burst, bucket.tokens + max(0.0, now - bucket.at) * self._rate)

    def _forget_quiet(self, now: float) -> None:
        """A channel with nothing on its way whose bucket refilled needs no entry."""
        self._buckets = {
            channel: bucket
            for channel, bucket in self._buckets.items()
            if bucket.sending or self._level(bucket, now) < self._burst
        }


class Undeliverable(Exception):
    """The reply cannot reach its place (no install for its workspace, say)."""


class SlackOutbound:
    def __init__(
        self,
        bus: Bus,
        workspaces: Workspaces,
        states: AnswerStates,
        *,
        consumer: str,
        settle_wait: float = 3.0,
        pace: ChannelPace | None = None,
    ) -> None:
        self._workspaces = workspaces
        self._states = states
        self._settle_wait = settle_wait
        self._pace = pace or ChannelPace()
        self._http = httpx2.AsyncClient(timeout=10.0)
        self._parts = SentParts()
        self._replies = ReplyStream(bus, PLATFORM, self._deliver, consumer=consumer, lane=_lane)

    async def start(self) -> None:
        await self._replies.start()

    async def stop(self) -> None:
        await self._replies.stop()

    async def close(self) -> None:
        await self._http.aclose()

    async def _deliver(self, message: OutboundMessage) -> None:
        try:
            await self.send(message)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            log.error(
                "slack refused a reply",
                outbound_id=message.outbound_id,
                channel=message.channel_id,
                error=error,
                hint=HINTS.get(error, ""),
            )
            metrics.DELIVERED.labels(PLATFORM, "refused").inc()
            return
        except Undeliverable as exc:
            log.error("slack reply undeliverable", outbound_id=message.outbound_id, why=str(exc))
            metrics.DELIVERED.labels(PLATFORM, "refused").inc()
            return
        metrics.DELIVERED.labels(PLATFORM, "sent").inc()

    async def send(self, message: OutboundMessage) -> None:
        chunks = split_message(escape(message.text), MAX_LENGTH)
        answer = (
            await self._states.settled(message.reply_to, self._settle_wait)
            if message.reply_to
            else None
        )
        if answer is not None:  # the answer to a slash command
            if answer.state != INLINE:  # given in the command's response already otherwise
                await self._respond(answer.data["response_url"], message, chunks)
            return
        workspace = await self._workspace_of(message)
        client = workspace.client
        if message.visibility is Visibility.EPHEMERAL and message.channel_id:

            async def to_person(_: int, chunk: str) -> None:
                async with self._paced(message.channel_id):
                    await client.chat_postEphemeral(
                        channel=message.channel_id,
                        user=message.to_user,
                        text=chunk,
                        thread_ts=message.thread_id or None,
                    )

            await self._parts.send(message.outbound_id, chunks, to_person)
            return
        channel, thread = message.channel_id, message.thread_id
        if message.visibility is not Visibility.CHANNEL:
            opened = await client.conversations_open(users=message.to_user)
            channel, thread = str(opened["channel"]["id"]), ""

        async def post(_: int, chunk: str) -> None:
            async with self._paced(channel):
                await client.chat_postMessage(channel=channel, text=chunk, thread_ts=thread or None)

        await self._parts.send(message.outbound_id, chunks, post)

    async def _workspace_of(self, message: OutboundMessage) -> Workspace:
        _, _, rest = message.entity_id.partition(":")
        team = rest.partition(":")[0]
        # a private message from another platform names no place: the one workspace it is
        workspace = await self._workspaces.get(team) if team else await self._workspaces.single()
        if workspace is None:
            raise Undeliverable(f"the bot is not installed in workspace {team or '(unknown)'}")
        return workspace

    @contextlib.asynccontextmanager
    async def _paced(self, channel: str) -> AsyncIterator[None]:
        """Wait for the channel's next slot, then send (in the ``async with`` block)."""
        delay = self._pace.delay(channel, time.monotonic())
        try:
            if delay:
                await asyncio.sleep(delay)
            yield
        finally:
            self._pace.answered(channel, time.monotonic())

    async def _respond(self, url: str, message: OutboundMessage, chunks: list[str]) -> None:
        kind = "in_channel" if message.visibility is Visibility.CHANNEL else "ephemeral"

        async def respond(_: int, chunk: str) -> None:
            response = await self._http.post(url, json={"response_type": kind, "text": chunk})
            if response.status_code >= 400:
                raise Undeliverable(f"response_url answered {response.status_code}")

        await self._parts.send(message.outbound_id, chunks, respond)


def escape(text: str) -> str:
    """Slack's three control characters as entities, so user text stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _lane(message: OutboundMessage) -> str:
    return message.channel_id or f"user:{message.to_user}"
