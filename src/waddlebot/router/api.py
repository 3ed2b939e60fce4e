"""The router's HTTP API: events in, the command catalogue out."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from redis.exceptions import RedisError

from waddlebot.core.contract import OutboundMessage
from waddlebot.core.events import Event, nul_message
from waddlebot.core.permissions import Level
from waddlebot.infra import keys, metrics, tracing
from waddlebot.infra.bodies import read_capped
from waddlebot.infra.codec import encode_envelope
from waddlebot.infra.outages import unavailable
from waddlebot.infra.ports import Backlogged
from waddlebot.router.dead_letters import ENTRY_ID, DeadLetter, ReplayOutcome
from waddlebot.web.access import Principal
from waddlebot.web.deps import get_principal, require_service
from waddlebot.web.host import ApiHost
from waddlebot.web.outages import RETRY_AFTER_SECONDS
from waddlebot.web.pages import Page, PageOf

if TYPE_CHECKING:
    from waddlebot.infra.completion import CompletionHub
    from waddlebot.router.dead_letters import DeadLetters
    from waddlebot.router.modules import ModuleRegistry

MAX_BATCH = 100
MAX_BODY_BYTES = 4 * 1024 * 1024  # a full batch of chat events is far below this

PREFIX = "/api/v1"
EVENTS_PATH = f"{PREFIX}/events"

router = APIRouter(prefix=PREFIX, dependencies=[Depends(get_principal)])


class RouterHost(ApiHost, Protocol):
    """The process as the router's endpoints see it."""

    @property
    def completions(self) -> CompletionHub: ...
    @property
    def dead_letters(self) -> DeadLetters: ...
    @property
    def registry(self) -> ModuleRegistry: ...


def _router_host(request: Request) -> RouterHost:
    host: RouterHost = request.app.state.runtime
    return host


Running = Annotated[RouterHost, Depends(_router_host)]


class Accepted(BaseModel):
    accepted: int
    event_ids: list[str]


class EventResult(BaseModel):
    event_id: str
    session_id: str = ""
    duplicate: bool = False
    completed: bool = Field(description="false when the router did not finish in time")
    replies: list[OutboundMessage] = Field(default_factory=list)


class Completed(BaseModel):
    results: list[EventResult]


class CommandInfo(BaseModel):
    name: str
    invoke: str = Field(description="how to type it, e.g. !ping or #weather")
    module: str
    description: str
    usage: str
    level: int
    level_name: str
    cooldown: float
    global_cooldown: float
    aliases: list[str]


_ONE_EVENT = TypeAdapter(Event)
_BATCH = TypeAdapter(list[Event])
_BODY_SCHEMA = {
    "oneOf": [
        {"$ref": "#/components/schemas/Event"},
        {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Event"},
            "minItems": 1,
            "maxItems": MAX_BATCH,
        },
    ]
}


async def events_body(request: Request) -> list[Event]:
    """One event or a batch, validated here so a bad batch gets errors naming the event and
    field at fault (FastAPI's union validation would report every branch of the union)."""
    too_large = HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"send at most {MAX_BODY_BYTES // 1024} KiB per request",
    )
    body = await read_capped(request, MAX_BODY_BYTES)
    if body is None:
        raise too_large
    try:
        raw = orjson.loads(body)
    except ValueError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body",),
                    "msg": "body is not valid JSON",
                    "input": None,
                }
            ]
        ) from exc
    if isinstance(raw, list):
        if not 1 <= len(raw) <= MAX_BATCH:
            raise RequestValidationError(
                [
                    {
                        "type": "too_long" if raw else "too_short",
                        "loc": ("body",),
                        "msg": f"send between 1 and {MAX_BATCH} events per request, not {len(raw)}",
                        "input": None,
                    }
                ]
            )
        adapter: TypeAdapter[Any] = _BATCH
    else:
        adapter = _ONE_EVENT
    try:
        parsed = adapter.validate_python(raw)
    except ValidationError as exc:
        raise RequestValidationError(_located("body", exc)) from exc
    return parsed if isinstance(parsed, list) else [parsed]


class EventsQuery(BaseModel):
    wait: bool = Field(default=False, description="answer 200 with the replies once routed")
    timeout: float = Field(default=10.0, gt=0, le=30)


_NO_QUERY = EventsQuery()  # shared, never changed


@router.post(
    "/events",
    dependencies=[Depends(require_service)],
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted | Completed,
    responses={200: {"model": Completed, "description": "with ?wait=true: the replies"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BODY_SCHEMA}},
            "description": f"one canonical event or a batch of up to {MAX_BATCH}",
        }
    },
)
async def post_events(
    request: Request,
    runtime: Running,
    query: Annotated[EventsQuery, Query()],
    events: list[Event] = Depends(events_body),
) -> Any:
    """Put events on the bus. Answers 202 once they are durably on it (the router processes
    them asynchronously), or with ``?wait=true`` 200 with each event's replies; 503 when the
    router is more than ``WADDLEBOT_BUS_MAXLEN`` events behind (nothing taken)."""
    return await _accept(runtime, events, query, request.headers)


async def post_events_hot(request: Request) -> Response:
    """``POST /events`` as served ahead of the route table (web/hot_paths.py): the same
    checks, in the same order, as the route's dependencies above."""
    runtime = _router_host(request)
    await require_service(await get_principal(request, runtime))
    events = await events_body(request)
    if not request.scope["query_string"]:  # as collectors call it: nothing to parse
        query = _NO_QUERY
    else:
        try:
            query = EventsQuery.model_validate(dict(request.query_params))
        except ValidationError as exc:
            raise RequestValidationError(_located("query", exc)) from exc
    return await _accept(runtime, events, query, request.headers)


def _located(where: str, exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"type": e["type"], "loc": (where, *e["loc"]), "msg": nul_message(e), "input": e["input"]}
        for e in exc.errors(include_url=False)
    ]


async def _accept(
    runtime: RouterHost, events: list[Event], query: EventsQuery, headers: Mapping[str, str]
) -> Response:
    if tracing.TRACER is None:
        return await _accepted(runtime, events, query)
    with tracing.received("POST /api/v1/events", headers, **_kinds(events)):
        return await _accepted(runtime, events, query)


def _kinds(events: list[Event]) -> dict[str, str]:
    """What a trace says of a batch of events: their platforms and types, never content."""
    return {
        "platform": ",".join(sorted({e.platform for e in events})),
        "event_type": ",".join(sorted({str(e.type) for e in events})),
    }


async def _accepted(runtime: RouterHost, events: list[Event], query: EventsQuery) -> Response:
    wait = query.wait
    futures = await _publish(runtime, events, wait)
    for event in events:
        metrics.events_accepted(event.platform).inc()
    if not wait:
        accepted = Accepted(accepted=len(events), event_ids=[e.event_id for e in events])
        return _json(accepted, status.HTTP_202_ACCEPTED)
    done, _ = await asyncio.wait(futures.values(), timeout=query.timeout)
    results = []
    for event_id, future in futures.items():
        runtime.completions.forget(event_id)
        if future in done and not future.cancelled():
            outcome = future.result()
            results.append(
                EventResult(
                    event_id=event_id,
                    session_id=outcome["session_id"],
                    duplicate=outcome["duplicate"],
                    completed=True,
                    replies=[OutboundMessage.model_validate(r) for r in outcome["replies"]],
                )
            )
        else:
            results.append(EventResult(event_id=event_id, completed=False))
    return _json(Completed(results=results), status.HTTP_200_OK)


async def _publish(
    runtime: RouterHost, events: list[Event], wait: bool
) -> dict[str, asyncio.Future[dict[str, Any]]]:
    """The events onto the bus; the completions to wait for (``wait``)."""
    with tracing.publishing(keys.EVENTS_STREAM) as parent:
        try:
            payloads = [encode_envelope(e, notify=wait, traceparent=parent) for e in events]
        except TypeError as exc:  # e.g. an integer in "raw" too large for JSON
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body",), "msg": str(exc), "input": None}]
            ) from exc
        futures = (
            {e.event_id: runtime.completions.expect(e.event_id) for e in events} if wait else {}
        )
        try:
            await runtime.ports.bus.admit(keys.EVENTS_STREAM)
            await runtime.ports.bus.publish(keys.EVENTS_STREAM, payloads)
        except Exception as exc:
            for event_id in futures:
                runtime.completions.forget(event_id)
            if isinstance(exc, Backlogged):  # answered 503 by web/outages.py
                for event in events:
                    metrics.EVENTS_REFUSED.labels(event.platform).inc()
                raise
            if unavailable(exc) is None and not isinstance(exc, RedisError):
                raise  # a bug, not the bus refusing
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "the event bus is unavailable; nothing was accepted, retry",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from exc
    return futures


def _json(model: BaseModel, status_code: int) -> Response:
    return Response(
        model.model_dump_json().encode(), status_code=status_code, media_type="application/json"
    )


# -- dead letters ---------------------------------------------------------------------------


class DeadLetterInfo(BaseModel):
    id: str = Field(description="its id on the dead letters stream; give it to replay")
    dead_at: datetime | None = Field(description="when it was set aside")
    reason: str = Field(description="why, when known: failed in N deliveries, or malformed")
    deliveries: int | None = Field(description="how often it had been handed out, when known")
    event_id: str = Field(description="empty when the entry is no valid event")
    platform: str
    entity_id: str
    message_id: str
    text: str = Field(description="the start of the event's text")

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterInfo:
        return cls(**letter.summary())


class DeadLetterPage(Page[DeadLetterInfo]):
    total: int = Field(description="dead letters waiting, on this page or not")


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[str, StringConstraints(pattern=ENTRY_ID.pattern)]] = Field(
        default_factory=list, max_length=1000, description="dead letter ids, as listed"
    )
    all: bool = Field(default=False, description="replay every dead letter instead")

    @model_validator(mode="after")
    def _one_choice(self) -> ReplayRequest:
        if bool(self.ids) == self.all:
            raise ValueError('give either "ids" (1 to 1000) or "all": true')
        return self


class ReplayResult(BaseModel):
    id: str
    outcome: ReplayOutcome = Field(
        description="replayed; already_answered (removed, not replayed); not_found; "
        "malformed (left in place: it is no event)"
    )
    event_id: str = ""
    entry_id: str = Field(default="", description="its new id on the events stream")


class ReplayReport(BaseModel):
    results: list[ReplayResult]
    replayed: int
    already_answered: int


async def require_operator(principal: Principal = Depends(require_service)) -> Principal:
    """The dead letters span every community: a service account without a community, and not
    a collector (which only delivers events)."""
    if principal.role == "collector":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "the dead letters need an admin service key, not a collector"
        )
    return principal


@router.get(
    "/events/dead-letters",
    response_model=DeadLetterPage,
    dependencies=[Depends(require_operator)],
)
async def list_dead_letters(runtime: Running, paging: PageOf) -> DeadLetterPage:
    """Events the router set aside (failed too often, or malformed), oldest first."""
    after = paging.keyed(ENTRY_ID)
    letters = await runtime.dead_letters.page(after=after, limit=paging.limit + 1)
    page = paging.page_by_key([DeadLetterInfo.of(letter) for letter in letters], lambda i: i.id)
    return DeadLetterPage(
        items=page.items, next=page.next, total=await runtime.dead_letters.count()
    )


@router.post(
    "/events/dead-letters/replay",
    response_model=ReplayReport,
    dependencies=[Depends(require_operator)],
)
async def replay_dead_letters(body: ReplayRequest, runtime: Running) -> ReplayReport:
    """Put dead letters back on the events stream, to be answered; one already answered is
    removed instead."""
    dead_letters = runtime.dead_letters
    done = await (dead_letters.replay_all() if body.all else dead_letters.replay(body.ids))
    outcomes = Counter(r.outcome for r in done)
    return ReplayReport(
        results=[
            ReplayResult(id=r.id, outcome=r.outcome, event_id=r.event_id, entry_id=r.entry_id)
            for r in done
        ],
        replayed=outcomes["replayed"],
        already_answered=outcomes["already_answered"],
    )


@router.get("/commands", response_model=Page[CommandInfo])
async def list_commands(runtime: Running, paging: PageOf) -> Page[CommandInfo]:
    """Every command the router knows, with the level it needs."""
    prefix = runtime.settings.default_prefix
    return paging.page_of_all(
        [
            CommandInfo(
                name=route.spec.name,
                invoke=route.spec.usage_line(prefix).split(" ", 1)[0],
                module=route.module,
                description=route.spec.description,
                usage=route.spec.usage_line(prefix),
                level=route.spec.level,
                level_name=Level.at_least(route.spec.level).label,
                cooldown=route.spec.cooldown,
                global_cooldown=route.spec.global_cooldown,
                aliases=list(route.spec.aliases),
            )
            for route in runtime.registry.routes()
        ]
    )


def event_schemas() -> dict[str, dict[str, Any]]:
    """The Event schema the events endpoint's body refers to, with the schemas it uses (the
    body is validated by hand, so FastAPI does not add them by itself)."""
    event_schema = Event.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**event_schema.pop("$defs", {}), "Event": event_schema}
