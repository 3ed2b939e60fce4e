"""Load for the fault suite: ``!ping`` commands posted to ``POST /api/v1/events``, each with its
own ids, and the ledger that says what became of every one of them.

Every request ends one of these ways, from the client's point of view:

* ``accepted``: 202; the events are the bot's to answer;
* ``refused``: an error status with a body that says what happened (4xx, or 503 while the
  database or Redis is away), or a connection refused while the API process is down: the
  client knows nothing was taken and may retry;
* ``cut``: the connection broke while the request was in flight (the API process was killed
  under it): the client cannot know whether its events were taken;
* ``unclear``: anything else (a 500, an error without a body, a timeout): always a defect.

An event may be answered once at most, whatever its request's outcome. One in a ``cut``
request may have been taken; one in a ``refused`` request should not have been, but Redis
dying just after it took a batch and before it said so would look the same: both are counted
(``unasked``), not failed, as a client retrying with the same ids gets one answer either way.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx2
import orjson

from tests.support.harness import chat_event
from waddlebot.core.events import Event
from waddlebot.infra import keys
from waddlebot.infra.codec import decode_outbound
from waddlebot.infra.ports import Bus
from waddlebot.router.dead_letters import DeadLetters

PLACE = "twitch:9001"
REPLIES = keys.replies_stream("twitch")
REPLY_GROUP = "fault-suite"


@dataclass
class Request:
    events: list[Event]
    outcome: str
    status: int | None = None
    detail: str = ""


class Users:
    """Who speaks: someone never seen before every time, or one of a few known people."""

    def __init__(self, *, new: bool, known: int = 20) -> None:
        self.new = new
        self._known = [f"known-{i}" for i in range(known)]
        self._turn = 0

    @property
    def known(self) -> list[str]:
        return list(self._known)

    def next(self) -> str:
        if self.new:
            return f"new-{uuid.uuid4().hex[:12]}"
        self._turn += 1
        return self._known[self._turn % len(self._known)]


def ping(user: str) -> Event:
    return chat_event("!ping", entity=PLACE, user_id=user, login=user)


def post_body(events: list[Event]) -> bytes:
    return orjson.dumps([e.model_dump(mode="json") for e in events])


class Traffic:
    """``clients`` concurrent clients, each posting ``batch`` pings per request, one request
    after another (a fresh connection each: no keep-alive to go stale when the API dies)."""

    def __init__(
        self,
        api_url: str,
        key: str,
        users: Users,
        *,
        clients: int = 2,
        batch: int = 5,
        pause: float = 0.05,
    ) -> None:
        self._url = f"{api_url}/api/v1/events"
        self._headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
        self.users = users
        self._clients = clients
        self._batch = batch
        self._pause = pause
        self.requests: list[Request] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._client()) for _ in range(self._clients)]

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*self._tasks)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.requests if r.outcome == outcome)

    def events(self, outcome: str) -> Iterator[Event]:
        for request in self.requests:
            if request.outcome == outcome:
                yield from request.events

    async def until(self, outcome: str, more: int, *, timeout: float = 60.0) -> None:
        """Wait until ``more`` further requests ended as ``outcome``."""
        target = self.count(outcome) + more
        async with asyncio.timeout(timeout):
            while self.count(outcome) < target:
                self._raise_if_a_client_died()
                await asyncio.sleep(0.02)

    def _raise_if_a_client_died(self) -> None:
        for task in self._tasks:
            if task.done() and task.exception() is not None:
                raise AssertionError("a traffic client crashed") from task.exception()

    async def _client(self) -> None:
        limits = httpx2.Limits(max_keepalive_connections=0)
        async with httpx2.AsyncClient(limits=limits, timeout=20.0) as client:
            while not self._stopping.is_set():
                events = [ping(self.users.next()) for _ in range(self._batch)]
                self.requests.append(await self._post(client, events))
                await asyncio.sleep(self._pause)

    async def post(self, events: list[Event]) -> Request:
        """One request on a connection of its own."""
        async with httpx2.AsyncClient(timeout=20.0) as client:
            return await self._post(client, events)

    async def _post(self, client: httpx2.AsyncClient, events: list[Event]) -> Request:
        try:
            response = await client.post(
                self._url, content=post_body(events), headers=self._headers
            )
        except httpx2.ConnectError as exc:
            return Request(events, "refused", None, f"connection refused: {exc}")
        except (httpx2.ReadError, httpx2.RemoteProtocolError, httpx2.WriteError) as exc:
            return Request(events, "cut", None, f"{type(exc).__name__}: {exc}")
        except httpx2.HTTPError as exc:
            return Request(events, "unclear", None, f"{type(exc).__name__}: {exc}")
        return classify(events, response)


def classify(events: list[Event], response: httpx2.Response) -> Request:
    status = response.status_code
    if status == 202:
        return Request(events, "accepted", status)
    detail = _detail(response)
    clear = (400 <= status < 500 or status == 503) and bool(detail)
    if status == 503 and not response.headers.get("retry-after"):
        clear = False
    return Request(events, "refused" if clear else "unclear", status, detail or response.text)


def _detail(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("detail", "")) if isinstance(body, dict) else ""


@dataclass
class Tally:
    """What became of the traffic, for the assertions and the report."""

    accepted: int = 0
    answered: int = 0
    dead_lettered: int = 0
    refused: int = 0  # events in refused requests
    cut: int = 0  # events in requests cut off mid-flight
    unasked: int = 0  # events of refused or cut requests that were answered all the same
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"accepted={self.accepted} answered={self.answered} "
            f"dead_lettered={self.dead_lettered} refused={self.refused} cut={self.cut} "
            f"(answered though not accepted: {self.unasked})"
        )


class Ledger:
    """Reads the Twitch reply stream with a consumer group of its own (as a Twitch collector
    would) and the dead letters, and checks every request's events against them."""

    def __init__(self, bus: Bus, dead_letters: DeadLetters) -> None:
        self._bus = bus
        self._dead_letters = dead_letters
        # event id -> outbound id -> the texts seen under it
        self.answers: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))

    async def open(self) -> Ledger:
        await self._bus.ensure_group(REPLIES, REPLY_GROUP)
        return self

    async def read(self) -> None:
        while True:
            messages = await self._bus.read(REPLIES, REPLY_GROUP, "ledger", 1000, 50)
            if not messages:
                return
            for message in messages:
                reply = decode_outbound(message.data)
                self.answers[reply.event_id][reply.outbound_id].append(reply.text)
            await self._bus.ack(REPLIES, REPLY_GROUP, [m.id for m in messages])

    async def dead_event_ids(self) -> set[str]:
        return {
            letter.event_id for letter in await self._dead_letters.list_all() if letter.event_id
        }

    async def settle(self, traffic: Traffic, *, timeout: float = 90.0) -> None:
        """Wait until every accepted event is answered or dead-lettered, and nothing is
        pending on the events stream; then read a moment longer, so that a late second
        answer would be seen too."""
        accepted = {e.event_id for e in traffic.events("accepted")}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await self.read()
            missing = accepted - set(self.answers)
            if missing:
                missing -= await self.dead_event_ids()
            pending = await self._bus.pending_count(keys.EVENTS_STREAM, keys.ROUTER_GROUP)
            if not missing and pending == 0:
                break
            if loop.time() > deadline:
                raise AssertionError(
                    f"after {timeout}s, {len(missing)} accepted events are neither answered "
                    f"nor dead-lettered, {pending} entries pending"
                )
            await asyncio.sleep(0.1)
        end = loop.time() + 1.0
        while loop.time() < end:
            await self.read()
            await asyncio.sleep(0.1)

    async def tally(self, traffic: Traffic) -> Tally:
        await self.read()
        dead = await self.dead_event_ids()
        tally = Tally()
        for request in traffic.requests:
            for event in request.events:
                self._check(tally, request, event, dead)
        return tally

    def _check(self, tally: Tally, request: Request, event: Event, dead: set[str]) -> None:
        answers = self.answers.get(event.event_id, {})
        texts = Counter(text for texts in answers.values() for text in set(texts))
        if len(answers) > 1 or any(len(set(t)) > 1 for t in answers.values()):
            tally.problems.append(f"{event.event_id} answered more than once: {dict(answers)}")
        elif answers and texts != Counter({"pong": 1}):
            tally.problems.append(f"{event.event_id} answered wrongly: {dict(answers)}")
        if request.outcome == "accepted":
            tally.accepted += 1
            if answers:
                tally.answered += 1
            elif event.event_id in dead:
                tally.dead_lettered += 1
            else:
                tally.problems.append(f"{event.event_id} accepted and lost")
        elif request.outcome in ("refused", "cut"):
            if request.outcome == "refused":
                tally.refused += 1
            else:
                tally.cut += 1
            tally.unasked += bool(answers)
        else:
            tally.problems.append(
                f"unclear answer to a request: {request.status} {request.detail[:200]}"
            )
