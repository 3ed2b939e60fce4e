"""The router pipeline, one batch of events at a time:

dedupe → resolve entity to community → open a session → parse → resolve the caller →
permission check → rate limits → dispatch to modules → replies onto the reply streams.

Every step that touches the cache or the database is done for the whole batch at once, so the
distributed mode pays one round trip per step per batch rather than per event, and steps that
do not need each other's answers run at once (on Redis their cache commands share one
pipeline): before its modules are called a batch waits for three round trips (dedupe claims
with places and people; aliases, community roles, label grants and chat line counts; rate
limits), then one for its replies. What nothing waits for (done marks, session records,
overlay updates) goes out after the replies.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import orjson
import structlog

from waddlebot.core.contract import (
    ActionKind,
    Caller,
    Identity,
    ModuleRequest,
    ModuleResponse,
    OutboundMessage,
    Reply,
    RunCommandAction,
    SetPrefixAction,
    Visibility,
    WhisperAction,
)
from waddlebot.core.events import Event, EventType, new_id
from waddlebot.core.manifest import CommandSpec
from waddlebot.core.parser import SERVERLESS_PREFIX, ParsedCommand, parse_command
from waddlebot.core.permissions import Level, PlatformRole, level_from_roles
from waddlebot.core.settings import CoreSettings
from waddlebot.infra import activity, keys, metrics, tracing
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.codec import Envelope, dumps_compact, encode_outbound
from waddlebot.infra.directory import Directory
from waddlebot.infra.ports import Ports
from waddlebot.router.breaker import ModuleHealth, ModuleRefused, router_timeout
from waddlebot.router.limits import CommandUse, RateLimitPolicy
from waddlebot.router.modules import CommandRoute, ModuleClient, ModuleRegistry
from waddlebot.router.overlays import OverlayPublisher, Prepared, TickerReply
from waddlebot.router.views import EVERYTHING, ModuleView, ModuleViews, views_of

if TYPE_CHECKING:
    from opentelemetry.trace import Span

log = structlog.get_logger("waddlebot.router")

_DONE = b"d"
_ANONYMOUS_CLAIM = b"p"  # a claim that names no event (written by earlier versions)
_NO_ROLE = b""
MAX_EXPANSIONS = 5
_THREADABLE = frozenset({EventType.CHAT_MESSAGE, EventType.SLASH_COMMAND})  # replies hang here
_CHAT = EventType.CHAT_MESSAGE
COMMUNITY_ROLE_LEVELS: dict[str, Level] = {
    "owner": Level.OWNER,
    "admin": Level.ADMIN,
    "moderator": Level.MODERATOR,
    "member": Level.EVERYONE,
}


class LevelGrants(Protocol):
    """Permission levels granted by labels (see features/labels/service.py)."""

    async def granted_levels(
        self, pairs: Collection[tuple[int, int]]
    ) -> dict[tuple[int, int], int]: ...


class CustomCommandNames(Protocol):
    """The names of communities' custom commands (see features/commands/service.py)."""

    async def names(self, community_ids: Collection[int]) -> Mapping[int, Collection[str]]: ...


class AliasEntry(Protocol):
    """What the router reads of one alias (the alias feature's ``AliasInfo``)."""

    @property
    def forced(self) -> bool:
        """An admin made it answer over a module's command of the same name."""
        ...


class AliasIndex(Protocol):
    """The aliases of communities (see features/alias/service.py)."""

    async def index(
        self, community_ids: Collection[int]
    ) -> Mapping[int, Mapping[str, AliasEntry]]: ...


class Trust(StrEnum):
    """Who may ask for an action."""

    ANY_MODULE = "any module"
    BUILT_IN = "built-in modules"  # WaddleBot's own (ModuleRegistry.add(..., builtin=True))


A = TypeVar("A", WhisperAction, SetPrefixAction, RunCommandAction)


@dataclass(frozen=True, slots=True)
class ActionRule(Generic[A]):
    """How the router carries out one kind of action, and the trust it needs."""

    carry_out: Callable[[_Trip, A, str], Awaitable[None]]
    trust: Trust


@dataclass(frozen=True, slots=True)
class Incoming:
    envelope: Envelope
    deliveries: int = 1

    @property
    def redelivered(self) -> bool:
        """Whether the event was handed out before: by the bus (reclaimed from a dead worker,
        or the worker's own retry), or before it was dead-lettered and an operator replayed
        it. Only such a delivery may take over the event's own claim."""
        return self.deliveries > 1 or self.envelope.replayed


@dataclass(frozen=True, slots=True)
class Community:
    id: int
    prefix: str
    has_owner: bool


@dataclass(slots=True)
class Outcome:
    event_id: str
    session_id: str
    notify: bool
    duplicate: bool = False
    replies: list[OutboundMessage] = field(default_factory=list)


@dataclass(slots=True)
class _Trip:
    """One event's trip through the router (a session)."""

    event: Event
    notify: bool
    redelivered: bool
    session_id: str = ""  # given once the trip is known not to be a duplicate
    community: Community | None = None
    view: ModuleView = EVERYTHING  # the modules the community has on
    command: ParsedCommand | None = None
    route: CommandRoute | None = None
    listeners: list[ModuleClient] = field(default_factory=list)
    caller: Caller | None = None
    replies: list[OutboundMessage] = field(default_factory=list)
    overlay: list[Prepared] = field(default_factory=list)
    ticker: list[str] = field(default_factory=list)  # replies said in the channel
    outcome: str = ""  # what became of the command, for metrics
    reply_counts: dict[str, int] = field(default_factory=dict)  # per source, for outbound ids
    expansions: list[str] = field(default_factory=list)  # aliases run so far, in order
    text: str = ""  # the command line an alias expanded to, when one did
    ran: set[tuple[str, str]] = field(default_factory=set)  # (name, module) expanded so far
    counted: bool = False  # the command's limits were counted with its batch: ``refusal``
    refusal: str | None = None
    span: Span | None = None  # its consumer span, while tracing is on

    @property
    def needs_caller(self) -> bool:
        """Whether a module may be called for it (known before the aliases are: a name no
        module declares may yet be an alias)."""
        return self.event.author is not None and (
            self.command is not None or self.route is not None or bool(self.listeners)
        )


class Router:
    def __init__(
        self,
        *,
        ports: Ports,
        directory: Directory,
        registry: ModuleRegistry,
        audit: AuditLog,
        settings: CoreSettings,
        grants: LevelGrants | None = None,
        aliases: AliasIndex | None = None,
        overlays: OverlayPublisher | None = None,
        custom_commands: CustomCommandNames | None = None,
        feed: ChangeFeed | None = None,
        module_views: ModuleViews | None = None,
        health: ModuleHealth | None = None,
    ) -> None:
        self._health = health or ModuleHealth()  # modules' breakers and error counts
        self._grants = grants
        self._views = module_views
        self._custom_commands = custom_commands
        self._overlays = overlays or OverlayPublisher(ports.cache, ports.broadcast)
        self._aliases = aliases
        self._ports = ports
        self._cache = ports.cache
        # what the router changes itself (a prefix, an owner) every process must hear of
        self._feed = feed or ChangeFeed.unshared(ports.cache)
        self._feed.watch(keys.ENTITY_CHANGES)
        self._feed.watch(keys.ROLE_CHANGES)
        self._directory = directory
        self._registry = registry
        self._audit = audit
        self._settings = settings
        self._limits = RateLimitPolicy(ports.ratelimiter, ports.cache, settings)
        self._cache_ttl = 300.0
        # what each action a module may ask for does, and which modules may ask for it
        self._actions: dict[ActionKind, ActionRule[Any]] = {
            ActionKind.WHISPER: ActionRule(self._whisper, Trust.ANY_MODULE),
            ActionKind.SET_PREFIX: ActionRule(self._set_prefix, Trust.BUILT_IN),
            ActionKind.RUN_COMMAND: ActionRule(self._run_expansion, Trust.BUILT_IN),
        }

    @property
    def registry(self) -> ModuleRegistry:
        return self._registry

    @property
    def actions(self) -> Mapping[ActionKind, ActionRule[Any]]:
        """The action table: what each kind of action does, and the trust it needs."""
        return self._actions

    async def process(self, batch: Sequence[Incoming]) -> list[Outcome]:
        """Run a batch through the pipeline. Returns once every reply is on its stream."""
        trips = [_Trip(i.envelope.event, i.envelope.notify, i.redelivered) for i in batch]
        if tracing.TRACER is None:
            return await self._process(trips)
        for trip, incoming in zip(trips, batch, strict=True):
            trip.span = tracing.start_consumer(
                keys.EVENTS_STREAM,
                incoming.envelope.traceparent,
                platform=trip.event.platform,
                event_type=str(trip.event.type),
            )
        try:
            return await self._process(trips)
        finally:
            for trip in trips:
                if trip.span is not None:
                    trip.span.end()

    async def _process(self, trips: list[_Trip]) -> list[Outcome]:
        # places and people are looked up beside the dedupe claims rather than after them:
        # a duplicate's lookups are wasted, but every batch saves a round trip
        fresh, user_ids, _ = await _together(
            self._dedupe(trips), self._resolve_users(trips), self._resolve_communities(trips)
        )
        if fresh:
            for trip in fresh:
                trip.session_id = new_id()
            await self._load_views(fresh)
            await self._claim_ownerships([t for t in fresh if t.event.author], user_ids)
            self._route(fresh)
            callers = [t for t in fresh if t.needs_caller]
            members = _members(callers, user_ids)
            # the chat lines are counted before any module runs: a timer added by a line
            # counts the lines after it (tests/integration/test_timers.py)
            _, roles, granted, _ = await _together(
                self._route_aliases(fresh),
                self._community_roles(members),
                self._granted(members),
                self._count_lines(fresh),
            )
            self._set_callers(callers, user_ids, roles, granted)
            await self._count_limits(fresh)
            busy = [trip for trip in fresh if trip.route is not None or trip.listeners]
            if busy:
                await asyncio.gather(*(self._run(trip) for trip in busy))
            await self._count_outcomes(fresh)
            await _together(self._count_activity(fresh), self._emit(fresh))
        fresh_ids = {id(t) for t in fresh}
        return [
            Outcome(t.event.event_id, t.session_id, t.notify, id(t) not in fresh_ids, t.replies)
            for t in trips
        ]

    # -- metrics -----------------------------------------------------------------------------

    async def _count_outcomes(self, trips: list[_Trip]) -> None:
        """Metrics once per batch and label set, not once per event (labels() takes a lock).
        A command is counted under a name the bot declares, never under a word someone typed
        (each would be a new series): a module's command by its name, a community's custom
        command as ``custom``, an alias as ``alias``, anything else as ``unknown``."""
        events: Counter[tuple[str, str]] = Counter()
        commands: Counter[tuple[str, str]] = Counter()
        custom = await self._custom_names([t for t in trips if t.outcome])
        for trip in trips:
            events[(trip.event.platform, trip.event.type.value)] += 1
            if trip.outcome:
                label = _command_label(trip, custom)
                # a name nobody knows, offered to the custom commands module in vain
                commands[(label, "unknown" if label == "unknown" else trip.outcome)] += 1
        for labels, count in events.items():
            metrics.EVENTS_PROCESSED.labels(*labels).inc(count)
        for labels, count in commands.items():
            metrics.COMMANDS.labels(*labels).inc(count)

    async def _count_activity(self, trips: list[_Trip]) -> None:
        """Each community's messages, commands and command errors this minute, and when its
        places were last heard from, for the portal's dashboard. Best effort: a count lost
        to a cache hiccup is not worth running the batch again."""
        counts: Counter[tuple[int, activity.Kind]] = Counter()
        seen: list[str] = []
        failures: list[tuple[int, activity.Failure]] = []
        for trip in trips:
            if trip.community is None:
                continue
            seen.append(trip.event.entity_id)
            if trip.event.type is EventType.CHAT_MESSAGE:
                counts[(trip.community.id, "messages")] += 1
            if trip.outcome and trip.outcome != "unknown":
                counts[(trip.community.id, "commands")] += 1
            if trip.outcome in activity.ERRORS:
                counts[(trip.community.id, "errors")] += 1
                failures.append((trip.community.id, _failure(trip)))
        try:
            await activity.count(self._cache, counts, seen)
            if failures:
                await activity.note_failures(self._cache, failures)
        except Exception as exc:
            log.warning("activity_count_failed", error=type(exc).__name__)

    async def _custom_names(self, trips: list[_Trip]) -> Mapping[int, Collection[str]] | None:
        """The custom command names of the communities where a name no module declares was
        run (None: no index to ask, so every such name counts as custom)."""
        asked = {
            t.community.id
            for t in trips
            if t.route is not None and t.route.fallback and t.community is not None
        }
        if not asked or self._custom_commands is None:
            return None
        return await self._custom_commands.names(asked)

    # -- dedupe ------------------------------------------------------------------------------

    async def _dedupe(self, trips: list[_Trip]) -> list[_Trip]:
        """Claim each message id for this event. A message id already claimed is a duplicate,
        except on a later delivery of the same event whose earlier attempt failed or whose
        worker died (the claim names the event): that attempt is taken over unless the event
        was finished. Another event with the same message id (the platform sent it twice)
        never takes a claim over."""
        ttl = self._settings.dedupe_ttl_seconds
        dedupe_keys = [keys.dedupe_key(t.event.platform, t.event.message_id) for t in trips]
        claims = [processing_claim(t.event.event_id) for t in trips]
        claimed = await self._cache.add_many(list(zip(dedupe_keys, claims, strict=True)), ttl)
        retried = [i for i, ok in enumerate(claimed) if not ok and trips[i].redelivered]
        if retried:
            states = await self._cache.get_many([dedupe_keys[i] for i in retried])
            for i, state in zip(retried, states, strict=True):
                claimed[i] = state == claims[i] or state == _ANONYMOUS_CLAIM
        fresh: list[_Trip] = []
        seen: set[str] = set()
        for trip, key, ok in zip(trips, dedupe_keys, claimed, strict=True):
            if ok and key not in seen:  # the same message twice in one batch counts once
                seen.add(key)
                fresh.append(trip)
            else:
                metrics.DUPLICATES.labels(trip.event.platform).inc()
        return fresh

    async def _count_lines(self, trips: list[_Trip]) -> None:
        """Chat lines per place, for timers that wait for some chat between two runs."""
        lines = Counter(t.event.entity_id for t in trips if t.event.type is EventType.CHAT_MESSAGE)
        if lines:
            await self._cache.incr_many([(keys.lines_key(e), n) for e, n in lines.items()])

    # -- communities and sessions ------------------------------------------------------------

    async def _resolve_communities(self, trips: list[_Trip]) -> None:
        entity_ids = list({t.event.entity_id: None for t in trips})
        cached = await self._cache.get_many([keys.entity_key(e) for e in entity_ids])
        found: dict[str, Community] = {}
        missing: list[str] = []
        for entity_id, raw in zip(entity_ids, cached, strict=True):
            if raw is None:
                missing.append(entity_id)
            else:
                c, p, o = orjson.loads(raw)
                found[entity_id] = Community(c, p, o)
        if missing:
            first = {t.event.entity_id: t.event for t in reversed(trips)}
            for entity_id in missing:
                event = first[entity_id]
                resolved = await self._directory.resolve_entity(
                    entity_id,
                    event.platform,
                    server_id=event.server_id,
                    channel_id=event.channel_id,
                )
                has_owner = await self._directory.has_owner(resolved.community_id)
                found[entity_id] = Community(resolved.community_id, resolved.prefix, has_owner)
                if resolved.created:
                    log.info(
                        "community created", entity_id=entity_id, community_id=resolved.community_id
                    )
            await self._cache.set_many(
                [
                    (
                        keys.entity_key(e),
                        dumps_compact([found[e].id, found[e].prefix, found[e].has_owner]),
                    )
                    for e in missing
                ],
                self._cache_ttl,
            )
        for trip in trips:
            trip.community = found[trip.event.entity_id]

    async def _record_sessions(self, trips: list[_Trip]) -> None:
        """Each trip's session (its id was given when the trip began) in the cache, written
        once the trip is finished: nothing needs it before."""
        items = []
        for trip in trips:
            assert trip.community is not None
            items.append(
                (
                    keys.session_key(trip.session_id),
                    dumps_compact(
                        {
                            "entity_id": trip.event.entity_id,
                            "community_id": trip.community.id,
                            "event_id": trip.event.event_id,
                        }
                    ),
                )
            )
        await self._cache.set_many(items, self._settings.session_ttl_seconds)

    # -- parse and route ---------------------------------------------------------------------

    async def _load_views(self, trips: list[_Trip]) -> None:
        """Which modules each community has on; held by the process, so usually no wait."""
        if self._views is None:
            return
        communities = [trip.community for trip in trips]
        found = await views_of(self._views, {c.id for c in communities if c is not None})
        for trip, community in zip(trips, communities, strict=True):
            assert community is not None
            trip.view = found[community.id]

    def _lookup(self, view: ModuleView, prefix: str, name: str) -> CommandRoute | None:
        """The module behind ``!name`` in a community: one it installed, else the registry's
        when the community has that module on (a name whose module is off may still be a
        custom command)."""
        if view is EVERYTHING:  # most communities: nothing switched off or installed
            return self._registry.command(prefix, name)
        installed = view.command(prefix == SERVERLESS_PREFIX, name)
        if installed is not None:
            return installed
        route = self._registry.command(prefix, name)
        if route is None or view.enabled(route.module):
            return route
        if route.fallback:
            return None
        fallback = self._registry.fallback_route(prefix, name)
        return fallback if fallback is not None and view.enabled(fallback.module) else None

    def _listeners(self, view: ModuleView, trip: _Trip) -> list[ModuleClient]:
        event_type = trip.event.type
        listeners = self._registry.listeners(event_type)
        if view is not EVERYTHING:
            listeners = [c for c in listeners if view.enabled(c.name)]
            listeners += view.listeners(event_type)
        if event_type is _CHAT and listeners:
            return [c for c in listeners if _hears(c, view, trip)]
        return listeners

    def _route(self, trips: list[_Trip]) -> None:
        for trip in trips:
            event = trip.event
            assert trip.community is not None
            if event.text and event.type in (
                EventType.CHAT_MESSAGE,
                EventType.SLASH_COMMAND,
                EventType.WHISPER,
            ):
                prefix = trip.community.prefix
                if event.type is EventType.SLASH_COMMAND and event.text.startswith("/"):
                    prefix = "/"  # a slash command (Discord, Slack) is /name whatever the prefix
                trip.command = parse_command(event.text, prefix)
                if trip.command is not None:
                    trip.route = self._lookup(trip.view, trip.command.prefix, trip.command.name)
                    if trip.route is None:
                        trip.outcome = "unknown"
            trip.listeners = self._listeners(trip.view, trip)

    async def _route_aliases(self, trips: list[_Trip]) -> None:
        """A ``!name`` no module declares may be an alias of the community; an alias an
        admin forced over a built-in command wins over that command."""
        named = [t for t in trips if t.command is not None and not t.command.serverless]
        if not named or self._aliases is None:
            return
        index = await self._aliases.index({t.community.id for t in named if t.community})
        for trip in named:
            assert trip.command is not None and trip.community is not None
            alias = index.get(trip.community.id, {}).get(trip.command.name)
            if not _alias_wins(trip.route, alias):
                continue
            route = self._registry.alias_route(trip.command.name)
            if route is not None and trip.view.enabled(route.module):
                trip.route, trip.outcome = route, ""

    # -- callers -----------------------------------------------------------------------------

    async def _resolve_users(self, trips: list[_Trip]) -> dict[tuple[str, str], int]:
        """The WaddleBot user behind every author in the batch, met for the first time or not
        (so a person is known once they have said anything)."""
        authors = {(t.event.platform, t.event.author.user_id): t for t in trips if t.event.author}
        if not authors:
            return {}
        idents = list(authors)
        cached = await self._cache.get_many([keys.identity_key(p, u) for p, u in idents])
        user_ids: dict[tuple[str, str], int] = {}
        for ident, raw in zip(idents, cached, strict=True):
            if raw is not None:
                user_ids[ident] = int(raw)
                continue
            author = authors[ident].event.author
            assert author is not None
            user_ids[ident] = await self._directory.ensure_identity(
                ident[0], ident[1], login=author.login, display_name=author.display_name
            )
        new = [
            (keys.identity_key(*i), str(user_ids[i]).encode())
            for i, r in zip(idents, cached, strict=True)
            if r is None
        ]
        if new:
            await self._cache.set_many(new, self._cache_ttl)
        return user_ids

    def _set_callers(
        self,
        trips: list[_Trip],
        user_ids: dict[tuple[str, str], int],
        roles: dict[tuple[int, int], str],
        granted: dict[tuple[int, int], int],
    ) -> None:
        """Caller and effective permission level for the events that go to a module, from
        the community roles and label grants of the (community, user) pairs."""
        for trip in trips:
            author = trip.event.author
            assert author is not None and trip.community is not None
            user_id = user_ids[(trip.event.platform, author.user_id)]
            member = (trip.community.id, user_id)
            # the highest of: the platform's role here, the community role, label grants
            level = max(
                level_from_roles(author.roles),
                COMMUNITY_ROLE_LEVELS.get(roles.get(member, ""), Level.EVERYONE),
                granted.get(member, Level.EVERYONE),
            )
            trip.caller = Caller(
                user_id=user_id,
                identity=Identity(
                    platform=trip.event.platform,
                    user_id=author.user_id,
                    login=author.login,
                    display_name=author.display_name,
                ),
                level=int(level),
            )

    async def _claim_ownerships(
        self, trips: list[_Trip], user_ids: dict[tuple[str, str], int]
    ) -> None:
        """The platform owner of a place (the Twitch broadcaster, the Discord guild owner...)
        becomes the owner of a community that has none yet."""
        for trip in trips:
            author, community = trip.event.author, trip.community
            assert author is not None and community is not None
            if community.has_owner or PlatformRole.OWNER not in author.roles:
                continue
            user_id = user_ids[(trip.event.platform, author.user_id)]
            if await self._directory.ensure_owner(community.id, user_id):
                log.info("community owner set", community_id=community.id, user_id=user_id)
                self._audit.record(
                    "community.owner",
                    decision="change",
                    actor=author.user_id,
                    target=str(user_id),
                    community_id=community.id,
                    session_id=trip.session_id,
                )
            owned = Community(community.id, community.prefix, True)
            role = [(keys.role_key(community.id, user_id), None)]
            await self._feed.write(keys.ROLE_CHANGES, role, None)
            entity = [
                (
                    keys.entity_key(trip.event.entity_id),
                    dumps_compact([owned.id, owned.prefix, True]),
                )
            ]
            await self._feed.write(keys.ENTITY_CHANGES, entity, self._cache_ttl)
            for other in trips:
                if other.community is not None and other.community.id == community.id:
                    other.community = owned

    async def _granted(self, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], int]:
        if not pairs or self._grants is None:
            return {}
        return await self._grants.granted_levels(pairs)

    async def _community_roles(self, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], str]:
        if not pairs:
            return {}
        cached = await self._cache.get_many([keys.role_key(c, u) for c, u in pairs])
        roles: dict[tuple[int, int], str] = {}
        new: list[tuple[str, bytes]] = []
        for pair, raw in zip(pairs, cached, strict=True):
            if raw is None:
                role = await self._directory.member_role(*pair) or ""
                new.append((keys.role_key(*pair), role.encode()))
            else:
                role = raw.decode()
            roles[pair] = role
        if new:
            await self._cache.set_many(new, self._cache_ttl)
        return roles

    # -- per event: permission, rate limits, dispatch ----------------------------------------

    async def _run(self, trip: _Trip) -> None:
        assert trip.community is not None
        # each trip runs in its own task (see process), so binding here never leaks into
        # another event's log lines
        structlog.contextvars.bind_contextvars(
            session_id=trip.session_id, community_id=trip.community.id
        )
        jobs = [self._guarded(trip, self._listen(trip, c), None) for c in trip.listeners]
        if trip.route is not None and trip.command is not None:
            shown = f"{trip.command.prefix}{trip.command.name}"
            jobs.append(self._guarded(trip, self._command(trip, trip.route), shown))
        if len(jobs) == 1:
            await jobs[0]  # the common case: no task to spawn
        else:
            await asyncio.gather(*jobs)

    async def _guarded(self, trip: _Trip, job: Awaitable[None], shown: str | None) -> None:
        """Run one module's part of an event; whatever goes wrong with its answer (a reply
        that fails validation, an action that cannot be carried out) is logged and, for a
        command, apologised for, and never spoils the other events of the batch."""
        try:
            await job
        except Exception:
            log.exception("handling a module's answer failed", command=shown or "")
            metrics.MODULE_ERRORS.labels("router", "answer").inc()
            if shown is not None:
                trip.outcome = "error"
                self._say(trip, f"Sorry, {shown} failed. The error has been logged.")

    async def _count_limits(self, trips: list[_Trip]) -> None:
        """Count the commands about to run against the rate limits, the whole batch in one
        round trip; ``_command`` finds the answer on the trip. Only what ``_command`` would
        count: not a command the caller may not use, nor a name no module declares. (A
        command an alias runs is counted when it runs.)"""
        counted = [
            trip
            for trip in trips
            if trip.route is not None
            and not trip.route.fallback
            and trip.caller is not None
            and trip.caller.level >= trip.route.spec.level
        ]
        if not counted:
            return
        uses = [self._use(trip, trip.route) for trip in counted if trip.route is not None]
        for trip, refusal in zip(counted, await self._limits.check_many(uses), strict=True):
            trip.counted, trip.refusal = True, refusal

    def _use(self, trip: _Trip, route: CommandRoute) -> CommandUse:
        command, caller = trip.command, trip.caller
        assert command is not None and caller is not None
        return CommandUse(
            trip.event.entity_id,
            caller,
            route.spec,
            f"{command.prefix}{command.name}",
            # a command an alias ran keeps only its cooldowns: the alias was counted already
            cooldowns_only=bool(trip.expansions),
        )

    async def _command(self, trip: _Trip, route: CommandRoute) -> None:
        command, caller, community = trip.command, trip.caller, trip.community
        assert command is not None and caller is not None and community is not None
        spec, shown = route.spec, f"{command.prefix}{command.name}"
        if caller.level < spec.level:
            trip.outcome = "denied"
            self._audit_command(trip, spec, "deny", {"needed": spec.level, "had": caller.level})
            log.info("command denied", command=spec.name, needed=spec.level, had=caller.level)
            told = keys.notice_key(trip.event.entity_id, caller.identity.user_id, "deny")
            if await self._cache.add(told, b"1", keys.DENIAL_NOTICE_SECONDS):  # not every time
                self._say(trip, spec.denial_reply(caller.name, shown))
            return
        # a name no module declares may be another bot's command: it must not use up
        # anyone's limits here (the custom commands module keeps its own cooldowns)
        if route.fallback:
            refusal = None
        elif trip.counted:  # with its batch (the first command of the trip only)
            refusal, trip.counted = trip.refusal, False
        else:
            refusal = await self._limits.check(self._use(trip, route))
        if refusal is not None:
            trip.outcome = "rate_limited"
            if refusal:
                self._say(trip, refusal)
            return
        if spec.level >= Level.MODERATOR:  # privileged commands are audited when allowed too
            self._audit_command(trip, spec, "allow")
        request = self._request(trip, route.client, kind="command")
        response = await self._call(route.client, request, trip, shown)
        if response is None:
            return
        if response.usage_error:
            trip.outcome = "usage"
            problem, usage = response.usage_error, response.usage or None
            self._say(trip, spec.usage_reply(community.prefix, problem, usage))
            return
        trip.outcome = "ok"
        self._collect(trip, response, "command")
        await self._act(trip, route.client, response, "command")

    def _audit_command(
        self, trip: _Trip, spec: CommandSpec, decision: str, detail: dict[str, int] | None = None
    ) -> None:
        assert trip.caller is not None and trip.community is not None
        self._audit.record(
            f"command.{spec.name}",
            decision=decision,
            actor=trip.caller.identity.user_id,
            target=trip.event.entity_id,
            community_id=trip.community.id,
            session_id=trip.session_id,
            detail=detail,
        )

    async def _listen(self, trip: _Trip, client: ModuleClient) -> None:
        response = await self._call(client, self._request(trip, client, kind="event"), trip, None)
        if response is not None:
            self._collect(trip, response, f"on.{client.name}")
            await self._act(trip, client, response, f"on.{client.name}")

    def _request(self, trip: _Trip, client: ModuleClient, *, kind: str) -> ModuleRequest:
        event, community = trip.event, trip.community
        assert community is not None
        command = trip.command if kind == "command" else None
        return ModuleRequest(
            session_id=trip.session_id,
            event_id=event.event_id,
            kind="command" if kind == "command" else "event",
            community_id=community.id,
            entity_id=event.entity_id,
            platform=event.platform,
            channel_id=event.channel_id,
            message_id=event.message_id,
            event_type=event.type,
            # the module knows the command by its own name, whichever alias was typed
            command=trip.route.spec.name if command and trip.route else "",
            # a listener hears the prefix too, so it can tell a command line from talk
            prefix=trip.command.prefix if trip.command else "",
            args=list(command.args) if command else [],
            raw_text=trip.text or event.text,
            to_bot=event.to_bot and trip.command is None,
            caller=trip.caller,
            amounts=event.amounts,
            occurred_at=event.occurred_at,
            config={} if trip.view is EVERYTHING else dict(trip.view.config(client.name)),
        )

    async def _call(
        self, client: ModuleClient, request: ModuleRequest, trip: _Trip, shown: str | None
    ) -> ModuleResponse | None:
        if trip.span is None:
            return await self._call_module(client, request, trip, shown)
        span = tracing.start_child(trip.span, f"module {client.name}", "CLIENT", module=client.name)
        with tracing.current(span):  # an HTTP module is sent its traceparent
            return await self._call_module(client, request, trip, shown, span)

    async def _call_module(
        self,
        client: ModuleClient,
        request: ModuleRequest,
        trip: _Trip,
        shown: str | None,
        span: Span | None = None,
    ) -> ModuleResponse | None:
        """Call a module with a timeout (an external module's own, see router/breaker.py); a
        failure is logged, counted for the module and community and (for commands) apologised
        for, and never escapes to take the worker down."""
        try:
            async with asyncio.timeout(
                router_timeout(client, self._settings.module_timeout_seconds)
            ):
                return await client.call(request)
        except ModuleRefused as refused:  # its breaker is open, or it is busy: said at once
            reason, said, detail = refused.reason, refused.reply(shown or ""), str(refused)
            error: BaseException = refused
            log.warning("module call refused", module=client.name, reason=reason)
        except TimeoutError as timeout:
            reason, detail = "timeout", "did not answer in time"
            said = f"Sorry, {shown} took too long to answer. The error has been logged."
            error = timeout
            log.error("module timed out", module=client.name, command=request.command)
        except Exception as exc:
            reason, detail = "error", f"{type(exc).__name__}: {exc}"
            said = f"Sorry, {shown} failed. The error has been logged."
            error = exc
            log.exception("module failed", module=client.name, command=request.command)
        if span is not None:
            tracing.failed(span, reason, error)
        self._health.failed(client.name, request.community_id, reason, detail)
        if shown is not None:
            trip.outcome = reason
            self._say(trip, said)
        return None

    # -- replies -----------------------------------------------------------------------------

    def _say(self, trip: _Trip, text: str) -> None:
        self._add_reply(trip, Reply(text=text, reply_to=trip.event.message_id), "router")

    def _collect(self, trip: _Trip, response: ModuleResponse, source: str) -> None:
        for reply in response.replies:
            self._add_reply(trip, reply, source)
        for update in response.overlay:  # one a page cannot show fails here, like a bad reply
            prepared = self._overlays.prepare(trip.session_id, update.kind, update.payload)
            trip.overlay.append(prepared)

    async def _act(
        self, trip: _Trip, client: ModuleClient, response: ModuleResponse, source: str
    ) -> None:
        """Carry out the actions a module asked for, each by its entry in the action table
        if the module is trusted enough for it."""
        for action in response.actions:
            rule = self._actions[action.type]
            if rule.trust is Trust.BUILT_IN and not self._registry.is_builtin(client.name):
                log.warning("action not allowed", action=action.type, module=client.name)
                continue
            await rule.carry_out(trip, action, source)

    async def _whisper(self, trip: _Trip, action: WhisperAction, source: str) -> None:
        params = action.params
        reply = Reply(text=params.text, visibility=Visibility.DIRECT, to_user=params.to_user)
        self._add_reply(trip, reply, source)

    async def _run_expansion(self, trip: _Trip, action: RunCommandAction, source: str) -> None:
        """Run the command an alias expands to, as the caller: its own permission level
        applies (an alias is never a way around one), within a depth limit and without
        going round in circles. As in a shell, an alias that runs its own name
        (``ping='!ping twice'``) runs the command it shadows rather than itself."""
        text = action.params.text
        assert trip.community is not None and trip.command is not None
        assert trip.route is not None
        parsed = parse_command(text, trip.community.prefix)
        if parsed is None:
            self._say(trip, f"That alias runs {text!r}, which is not a command.")
            return
        trip.expansions.append(trip.command.name)
        trip.ran.add((trip.command.name, trip.route.module))
        route = await self._expansion_route(trip, parsed)
        if route is None or (parsed.name, route.module) in trip.ran:
            chain = " -> ".join([*trip.expansions, parsed.name])
            self._say(trip, f"That alias goes round in circles ({chain}).")
            return
        if len(trip.expansions) > MAX_EXPANSIONS:
            self._say(trip, f"That alias goes more than {MAX_EXPANSIONS} commands deep.")
            return
        trip.command, trip.route, trip.text = parsed, route, text
        await self._command(trip, route)

    async def _expansion_route(self, trip: _Trip, parsed: ParsedCommand) -> CommandRoute | None:
        """Where an expanded line goes: an alias of that name unless it is being expanded
        already, else the command itself; None when only the alias was left (a loop)."""
        assert trip.community is not None
        route = self._lookup(trip.view, parsed.prefix, parsed.name)
        if parsed.serverless or self._aliases is None:
            return route
        index = await self._aliases.index([trip.community.id])
        alias_route = self._registry.alias_route(parsed.name)
        if alias_route is not None and not trip.view.enabled(alias_route.module):
            alias_route = None
        if alias_route is None or not _alias_wins(route, index[trip.community.id].get(parsed.name)):
            return route
        if (parsed.name, alias_route.module) not in trip.ran:
            return alias_route
        return None if route is None or route.fallback else route

    async def _set_prefix(self, trip: _Trip, action: SetPrefixAction, source: str) -> None:
        prefix = action.params.prefix
        assert trip.community is not None and trip.caller is not None
        community_id = trip.community.id
        await self._directory.set_prefix(community_id, prefix)
        entities = await self._directory.entity_ids(community_id)
        # written, not deleted: a refill could read a replica that has not seen the change
        fresh = dumps_compact([community_id, prefix, trip.community.has_owner])
        await self._feed.write(
            keys.ENTITY_CHANGES,
            [(keys.entity_key(entity_id), fresh) for entity_id in entities],
            self._cache_ttl,
        )
        self._audit.record(
            "community.prefix",
            decision="change",
            actor=trip.caller.identity.user_id,
            target=prefix,
            community_id=community_id,
            session_id=trip.session_id,
        )

    def _add_reply(self, trip: _Trip, reply: Reply, source: str) -> None:
        """Queue a reply. Its outbound id is numbered per source (the command, each listener,
        the router itself), so a rerun after a takeover gives every message the same id even
        though concurrent listeners may finish in another order."""
        event = trip.event
        n = trip.reply_counts.get(source, 0)
        trip.reply_counts[source] = n + 1
        visibility, reply_to = reply.visibility, reply.reply_to
        if event.type is EventType.WHISPER and visibility is Visibility.CHANNEL:
            visibility = Visibility.DIRECT  # a command whispered is answered in private
        if event.type not in _THREADABLE:
            reply_to = ""  # a follow or a raid is no message a reply can hang from
        elif event.type is EventType.SLASH_COMMAND and not reply_to and reply.to_platform is None:
            reply_to = event.message_id  # a slash command waits for an answer, even a private one
        to_user = reply.to_user
        if visibility is not Visibility.CHANNEL and not to_user and event.author:
            to_user = event.author.user_id
        elsewhere = reply.to_platform is not None and visibility is Visibility.DIRECT
        # the ticker shows what the bot said in public chat; a slash command may have been
        # used in a direct message (Slack), so its answers stay off the stream
        if visibility is Visibility.CHANNEL and source != "router" and event.type is _CHAT:
            trip.ticker.append(reply.text)
        trip.replies.append(
            OutboundMessage(
                outbound_id=f"{event.event_id}:{source}:{n}",
                event_id=event.event_id,
                session_id=trip.session_id,
                # a private message to an account on another platform has no place there
                platform=reply.to_platform if elsewhere else event.platform,
                entity_id="" if elsewhere else event.entity_id,
                channel_id="" if elsewhere else event.channel_id,
                thread_id="" if elsewhere else event.thread_id,
                text=reply.text,
                visibility=visibility,
                reply_to=reply_to,
                to_user=to_user,
            )
        )

    async def _emit(self, trips: list[_Trip]) -> None:
        """Replies onto the reply streams; once they are all there, overlay updates out, the
        events marked done and their sessions recorded."""
        by_platform: dict[str, list[bytes]] = defaultdict(list)
        spans: list[Span] = []
        for trip in trips:
            if trip.span is not None and trip.replies:
                spans.append(self._trace_replies(trip, by_platform))
                continue
            for message in trip.replies:
                by_platform[message.platform].append(encode_outbound(message))
        try:
            await _together(
                *(
                    self._ports.bus.publish(keys.replies_stream(platform), payloads)
                    for platform, payloads in by_platform.items()
                )
            )
        finally:
            for span in spans:
                span.end()
        for platform, payloads in by_platform.items():
            metrics.REPLIES.labels(platform).inc(len(payloads))
        await _together(
            self._emit_overlays(trips),
            self._cache.set_many(
                [(keys.dedupe_key(t.event.platform, t.event.message_id), _DONE) for t in trips],
                self._settings.dedupe_ttl_seconds,
            ),
            self._record_sessions(trips),
        )

    @staticmethod
    def _trace_replies(trip: _Trip, by_platform: dict[str, list[bytes]]) -> Span:
        """The producer span of a traced trip's replies (ended once they are published),
        its traceparent on each for the collector sending it."""
        assert trip.span is not None
        platforms = sorted({m.platform for m in trip.replies})
        span = tracing.start_child(
            trip.span, "replies publish", "PRODUCER", platform=",".join(platforms)
        )
        carried = tracing.traceparent(span)
        for message in trip.replies:
            traced = message.model_copy(update={"traceparent": carried})
            by_platform[message.platform].append(encode_outbound(traced))
        return span

    async def _emit_overlays(self, trips: list[_Trip]) -> None:
        """Overlay updates, and channel replies for the tickers. Best effort: an overlay is
        decoration, and failing the batch for it would send its replies twice."""
        ticker: list[TickerReply] = []
        try:
            for trip in trips:
                assert trip.community is not None
                if trip.overlay:
                    await self._overlays.publish(trip.community.id, trip.overlay)
                ticker.extend(
                    TickerReply(trip.community.id, trip.session_id, trip.event.platform, text)
                    for text in trip.ticker
                )
            await self._overlays.ticker(ticker)
        except Exception:
            log.warning("overlay updates not published", exc_info=True)


def _hears(client: ModuleClient, view: ModuleView, trip: _Trip) -> bool:
    """Whether a chat listener is called for this line, as its manifest's ``chat`` says."""
    scope = client.manifest.chat
    if scope is None:
        return True
    if scope.to_bot and trip.event.to_bot and trip.command is None:
        return True
    return bool(scope.while_set) and bool(view.config(client.name).get(scope.while_set))


def _members(trips: list[_Trip], user_ids: dict[tuple[str, str], int]) -> list[tuple[int, int]]:
    """The (community id, user id) pairs of the trips' authors, each once."""
    return list(
        {
            (t.community.id, user_ids[(t.event.platform, t.event.author.user_id)]): None
            for t in trips
            if t.community is not None and t.event.author is not None
        }
    )


async def _together(*steps: Awaitable[Any]) -> list[Any]:
    """Run steps of a batch that do not need each other's answers at once, so their round
    trips overlap. Every step finishes before the first failure is raised: none is left
    running behind a batch that is being retried."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def processing_claim(event_id: str) -> bytes:
    """What a message's dedupe key holds while this event is being processed."""
    return b"p:" + event_id.encode()


def is_finished(state: bytes | None) -> bool:
    """Whether a dedupe key's state says its event was answered."""
    return state == _DONE


def _failure(trip: _Trip) -> activity.Failure:
    """What the dashboard lists of a command that came to an error."""
    command = trip.command
    typed = f"{command.prefix}{command.name}" if command is not None else ""
    module = trip.route.module if trip.route is not None else ""
    return activity.Failure(int(time.time()), typed, module, trip.outcome)


def _command_label(trip: _Trip, custom: Mapping[int, Collection[str]] | None) -> str:
    route = trip.route
    if trip.expansions or (route is not None and route.alias):
        return "alias"
    if route is None:
        return "unknown"
    if not route.fallback:
        return route.spec.name  # declared by a module: a bounded set
    if custom is None:
        return "custom"
    assert trip.community is not None
    names = custom.get(trip.community.id, ())
    return "custom" if route.spec.name.lower() in names else "unknown"


def _alias_wins(route: CommandRoute | None, alias: AliasEntry | None) -> bool:
    """An alias answers a name no module declares; over a module's command only when an
    admin forced it."""
    return alias is not None and (route is None or route.fallback or alias.forced)
