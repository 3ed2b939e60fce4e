"""A router worker: reads batches from the events stream, runs them through the pipeline and
acknowledges them only once their replies are on the reply streams.

Several workers (in one process or many) share one consumer group; entries a dead worker left
unacknowledged are reclaimed after ``bus_reclaim_idle_ms`` and answered by a live one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from dataclasses import replace

import orjson
import structlog

from waddlebot.infra import keys, metrics
from waddlebot.infra.codec import decode_envelope, encode_dead_letter
from waddlebot.infra.outages import describe, unavailable
from waddlebot.infra.ports import Broadcast, Bus, BusMessage
from waddlebot.infra.tasks import stop_task
from waddlebot.router.pipeline import Incoming, Outcome, Router

log = structlog.get_logger("waddlebot.router.worker")

MAX_DELIVERIES = 5  # an entry that crashed the pipeline this often goes to the dead letters
SHUTDOWN_GRACE_SECONDS = 5.0


class _Unreachable(Exception):
    """A batch failed because the database or Redis cannot be reached; ``done`` were finished
    before (when the batch was being tried one by one)."""

    def __init__(self, what: str, error: str, done: list[str]) -> None:
        super().__init__(f"{what} unreachable: {error}")
        self.what, self.error, self.done = what, error, done


def _raise_if_unreachable(exc: Exception, done: list[str]) -> None:
    what = unavailable(exc)
    if what is not None:
        raise _Unreachable(what, describe(exc), list(done)) from exc


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class RouterWorker:
    def __init__(
        self,
        *,
        bus: Bus,
        broadcast: Broadcast,
        router: Router,
        consumer: str,
        batch_size: int = 100,
        reclaim_idle_ms: int = 30_000,
        block_ms: int = 1000,
    ) -> None:
        self._bus = bus
        self._broadcast = broadcast
        self._router = router
        self.consumer = consumer
        self._batch_size = batch_size
        self._reclaim_idle_ms = reclaim_idle_ms
        self._block_ms = block_ms
        self._stopping = asyncio.Event()
        self._next_reclaim = 0.0
        self._task: asyncio.Task[None] | None = None
        self.busy = False  # True while a batch is in hand

    async def _ensure_group(self) -> None:
        try:
            await self._bus.ensure_group(keys.EVENTS_STREAM, keys.ROUTER_GROUP)
        except Exception:
            log.warning("could not create the router's consumer group yet", exc_info=True)

    async def run(self) -> None:
        await self._ensure_group()
        log.info("router worker started", consumer=self.consumer)
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                await self.step()
                backoff = 0.1
            except Exception as exc:
                # what the worker holds stays unacknowledged and is retried after the
                # reclaim delay
                what = unavailable(exc)
                if what is None:
                    log.exception("router batch failed; retrying", consumer=self.consumer)
                else:
                    log.warning(
                        "router cannot reach its infrastructure; retrying",
                        consumer=self.consumer,
                        unavailable=what,
                        error=describe(exc),
                    )
                await self._pause(backoff)
                backoff = min(backoff * 2, 5.0)
                await self._ensure_group()  # Redis may have restarted empty
        log.info("router worker stopped", consumer=self.consumer)

    def start(self) -> None:
        """Run in a task of its own, until :meth:`close`."""
        self._task = asyncio.create_task(self.run(), name=self.consumer)

    async def close(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop gracefully: the worker finishes the batch in hand and the read under way
        (cancelling a read could lose its answer after Redis had handed the entries to this
        consumer: they would wait for a reclaim), then leaves. Cancelled after ``grace``."""
        self.stop()
        await stop_task(self._task, grace=grace)

    def stop(self) -> None:
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        """Sleep, or less when the worker is asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def step(self) -> int:
        """Process one batch; returns how many entries it handled."""
        messages = await self._reclaimed()
        if not messages:
            messages = await self._bus.read(
                keys.EVENTS_STREAM,
                keys.ROUTER_GROUP,
                self.consumer,
                self._batch_size,
                self._block_ms,
            )
        if not messages:
            return 0
        self.busy = True
        try:
            return await self._handle(messages)
        finally:
            self.busy = False

    async def _handle(self, messages: list[BusMessage]) -> int:
        started = time.perf_counter()
        entries, dead = self._decode(messages)
        if dead:  # set aside and acknowledged now, so a retry of the batch cannot repeat it
            now = time.time()
            letters = [
                encode_dead_letter(
                    m.data, reason=reason, deliveries=m.deliveries, entry_id=m.id, dead_at=now
                )
                for m, reason in dead
            ]
            await self._bus.publish(keys.DEAD_LETTER_STREAM, letters)
            await self._bus.ack(keys.EVENTS_STREAM, keys.ROUTER_GROUP, [m.id for m, _ in dead])
            metrics.DEAD_LETTERS.inc(len(dead))
        if not entries:
            return len(messages)
        ids = [entry_id for entry_id, _ in entries]
        heartbeat = asyncio.create_task(self._keep_claimed(ids))
        try:
            done = await self._process_through_outages(entries)
        finally:
            await stop_task(heartbeat)
        await self._bus.ack(keys.EVENTS_STREAM, keys.ROUTER_GROUP, done)
        metrics.BATCH_LATENCY.observe(time.perf_counter() - started)
        return len(messages)

    async def _process_through_outages(self, entries: list[tuple[str, Incoming]]) -> list[str]:
        """Route the batch; returns the ids finished. While the database or Redis cannot be
        reached the batch stays in hand (the heartbeat keeps it claimed) and is tried again
        when they answer: an outage is not the events' fault, so it must not use up their
        deliveries and send them to the dead letters. A worker asked to stop leaves what is
        left for another worker to reclaim."""
        done: list[str] = []
        backoff = 0.1
        waiting_for = ""
        while True:
            try:
                done += await self._process(entries)
                break
            except _Unreachable as outage:
                done += outage.done
                if not waiting_for:
                    log.warning(
                        "batch kept until the infrastructure answers again",
                        consumer=self.consumer,
                        size=len(entries) - len(outage.done),
                        unavailable=outage.what,
                        error=outage.error,
                    )
                waiting_for = outage.what
                finished = set(outage.done)
            if self._stopping.is_set():
                break
            await self._pause(backoff)
            backoff = min(backoff * 2, 5.0)
            left = await self._held([e for e in entries if e[0] not in finished])
            # a later delivery of the same events: each may take over its own claim
            entries = [(i, replace(e, deliveries=e.deliveries + 1)) for i, e in left]
            if not entries:
                break
        if waiting_for:
            log.info(
                "batch resumed", consumer=self.consumer, unavailable=waiting_for, done=len(done)
            )
        return done

    async def _held(self, entries: list[tuple[str, Incoming]]) -> list[tuple[str, Incoming]]:
        """The entries this worker still holds (and their claim renewed): after Redis was away
        longer than the reclaim delay another worker may have taken some over. While Redis
        cannot tell, all of them (the next attempt fails again and waits again)."""
        try:
            held = set(
                await self._bus.touch(
                    keys.EVENTS_STREAM, keys.ROUTER_GROUP, self.consumer, [i for i, _ in entries]
                )
            )
        except Exception as exc:
            if unavailable(exc) is None:
                raise
            return entries
        return [entry for entry in entries if entry[0] in held]

    async def _process(self, entries: list[tuple[str, Incoming]]) -> list[str]:
        """Route the batch; returns the ids finished. If the batch fails, its events are
        tried one by one, so one event that cannot be processed does not hold back the
        others (it stays unacknowledged: retried, then dead-lettered). Raises _Unreachable
        when the database or Redis cannot be reached (then trying one by one is no use)."""
        try:
            outcomes = await self._router.process([incoming for _, incoming in entries])
        except Exception as exc:
            _raise_if_unreachable(exc, [])
            if len(entries) == 1:
                raise
            log.exception("batch failed; trying its events one by one", size=len(entries))
        else:
            await self._notify(outcomes)
            return [entry_id for entry_id, _ in entries]
        done: list[str] = []
        for entry_id, incoming in entries:
            # a second attempt: the failed batch may have claimed the event already
            retry = replace(incoming, deliveries=incoming.deliveries + 1)
            try:
                outcomes = await self._router.process([retry])
            except Exception as exc:
                _raise_if_unreachable(exc, done)
                log.exception("event failed; it will be retried", entry=entry_id)
                continue
            await self._notify(outcomes)
            done.append(entry_id)
        if not done:  # nothing works: more likely the database or Redis than the events
            raise RuntimeError("every event of the batch failed")
        return done

    async def _keep_claimed(self, ids: list[str]) -> None:
        """While a batch is in hand, tell the bus it is still being worked on, so a slow
        module does not get its batch reclaimed and answered twice by another worker."""
        interval = max(self._reclaim_idle_ms / 3000, 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                await self._bus.touch(keys.EVENTS_STREAM, keys.ROUTER_GROUP, self.consumer, ids)
            except Exception as exc:
                if unavailable(exc) is None:
                    log.warning("could not renew the claim on a batch", exc_info=True)
                else:  # the batch fails or waits meanwhile, and says so
                    log.debug("could not renew the claim on a batch", error=describe(exc))

    async def _reclaimed(self) -> list[BusMessage]:
        now = time.monotonic()
        if now < self._next_reclaim:
            return []
        self._next_reclaim = now + max(self._reclaim_idle_ms / 2000, 0.05)
        messages = await self._bus.reclaim(
            keys.EVENTS_STREAM,
            keys.ROUTER_GROUP,
            self.consumer,
            self._reclaim_idle_ms,
            self._batch_size,
        )
        if messages:
            log.warning("reclaimed entries of a stalled worker", count=len(messages))
        return messages

    def _decode(
        self, messages: list[BusMessage]
    ) -> tuple[list[tuple[str, Incoming]], list[tuple[BusMessage, str]]]:
        """(entry id, event) for each good entry; malformed or too-often-failed ones apart,
        each with the reason it is set aside."""
        entries: list[tuple[str, Incoming]] = []
        dead: list[tuple[BusMessage, str]] = []
        for message in messages:
            if message.deliveries > MAX_DELIVERIES:
                log.error("entry failed too often; moved to dead letters", entry=message.id)
                reason = f"failed in {message.deliveries - 1} deliveries"
                dead.append((message, reason))
                continue
            try:
                incoming = Incoming(decode_envelope(message.data), message.deliveries)
            except ValueError as exc:
                error = str(exc)[:500]
                log.error(
                    "malformed bus entry moved to dead letters", entry=message.id, error=error
                )
                dead.append((message, f"malformed: {error}"))
            else:
                entries.append((message.id, incoming))
        return entries, dead

    async def _notify(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if not outcome.notify:
                continue
            payload = {
                "event_id": outcome.event_id,
                "session_id": outcome.session_id,
                "duplicate": outcome.duplicate,
                "replies": [r.model_dump(mode="json") for r in outcome.replies],
            }
            await self._broadcast.publish(keys.DONE_CHANNEL, orjson.dumps(payload))
