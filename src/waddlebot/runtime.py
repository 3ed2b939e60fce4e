"""Composes the services of one process from settings: ports, database, modules, router
workers and collectors. ``waddlebot up`` runs them all; ``waddlebot serve <service>`` one."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import secrets
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import structlog

from waddlebot.core.errors import ConfigurationError, ServiceUnavailable
from waddlebot.core.tools import Toolbox
from waddlebot.features import builtin_features
from waddlebot.features.feature import Feature, Key
from waddlebot.features.shared import (
    DIRECTORY,
    MODULE_COMMUNITIES,
    MODULE_STORE,
    SCHEDULED_MODULES,
    STORE_GRANTS,
    TOOLS,
    FeatureServices,
    router_services,
)
from waddlebot.infra import tracing
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.codec import decoding_here
from waddlebot.infra.completion import CompletionHub
from waddlebot.infra.connections import ConnectionReporter, Watched
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.migrate import current_async, upgrade
from waddlebot.infra.db.problems import database_reached, schema_problem
from waddlebot.infra.factory import build_ports
from waddlebot.infra.gc import tune_gc
from waddlebot.infra.ports import Broadcast, Ports
from waddlebot.infra.redis_ports import RedisBroadcast, redis_client
from waddlebot.infra.scheduler import Scheduler
from waddlebot.infra.signing import SignatureError
from waddlebot.platforms import BUILTINS, NAMES, direct_message_platforms
from waddlebot.platforms.platform import Collector, CollectorParts, PlatformPackage
from waddlebot.router import Router, RouterWorker
from waddlebot.router.breaker import GuardedModuleClient, ModuleHealth, module_limits
from waddlebot.router.dead_letters import DeadLetters
from waddlebot.router.modules import LocalModuleClient, ModuleClient, ModuleRegistry
from waddlebot.router.remote import (
    HttpModuleClient,
    ModuleCallError,
    ModuleUnreachable,
    parse_remote_spec,
)
from waddlebot.router.schedules import JOB_NAME, EveryCommunity, ModuleSchedules
from waddlebot.router.shared_health import SharedHealth, health_reporter
from waddlebot.router.worker import default_consumer_name
from waddlebot.sdk.loader import load_module
from waddlebot.settings import Settings
from waddlebot.web.access import Access

if TYPE_CHECKING:
    from waddlebot.sdk import Module

T = TypeVar("T")

log = structlog.get_logger("waddlebot.runtime")

SERVICES = ("api", "router", *NAMES, "browser_source", "portal")
MODULES_FIX = "Each is package.module:attribute, importable from where waddlebot starts."
REMOTE_MODULES_FIX = (
    "Each is name=http://host:port of a running `waddlebot serve module:...`, started first."
)
CLASH_FIX = "Give it a name and commands no built-in or other module has."

C = TypeVar("C", bound=Collector)


class Runtime(FeatureServices):
    """Everything one process runs. Build with :meth:`start`, end with :meth:`stop`.

    It is the features' host (features/feature.py): it sets up every built-in feature in
    order, holds the services they provide (``runtime.identity``, or ``runtime.need(KEY)``),
    registers their chat modules and runs their jobs."""

    settings: Settings
    ports: Ports
    feed: ChangeFeed
    db: Database
    audit: AuditLog
    registry: ModuleRegistry
    module_health: ModuleHealth
    shared_health: SharedHealth
    completions: CompletionHub
    dead_letters: DeadLetters
    access: Access
    scheduler: Scheduler
    module_schedules: ModuleSchedules
    router: Router

    def __init__(
        self, settings: Settings, services: Iterable[str] = SERVICES, *, changes_url: str = ""
    ) -> None:
        """``changes_url``: a Redis to hear and tell changes through when this process has
        ports of its own (``waddlebot chat`` beside a deployment); by default changes go
        through the process's own broadcast port."""
        self.settings = settings
        self._changes_url = changes_url
        self.services = frozenset(services)
        unknown = self.services - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)}; choose from {SERVICES}")
        self._collectors: dict[str, Collector] = {}
        self._provided: dict[Key[Any], Any] = {}
        self._setting_up: Feature | None = None
        self.workers: list[RouterWorker] = []
        self._cleanup = contextlib.AsyncExitStack()  # undoes start-up in reverse order

    @classmethod
    async def start(
        cls, settings: Settings, services: Iterable[str] = SERVICES, *, changes_url: str = ""
    ) -> Runtime:
        runtime = cls(settings, services, changes_url=changes_url)
        try:
            await runtime._start()
        except BaseException:
            await runtime.stop()  # release whatever was opened before the failure
            raise
        return runtime

    async def _start(self) -> None:
        settings, cleanup = self.settings, self._cleanup
        if settings.tracing and tracing.TRACER is None:  # else a test's, or off
            tracing.enable(settings, self.services)
            # the last spans are sent on the way out: over the network, off the event loop
            cleanup.push_async_callback(asyncio.to_thread, tracing.disable)
        await _prepare_database(settings)
        self.ports = await build_ports(
            settings.redis_url, settings.stream_prefix, bus_maxlen=settings.bus_maxlen
        )
        cleanup.push_async_callback(self.ports.close)
        self.dead_letters = DeadLetters(self.ports.bus, self.ports.cache)
        self.feed = ChangeFeed(
            await self._changes_broadcast(),
            self.ports.cache,
            cache_scope="redis" if settings.redis_url else "",  # a deployment shares one
        )
        self.db = Database.from_settings(settings)
        cleanup.push_async_callback(self.db.close)
        self.audit = AuditLog(self.db)
        self.audit.start()
        cleanup.push_async_callback(self.audit.stop)
        self.registry = ModuleRegistry()
        cleanup.push_async_callback(self.registry.close)
        self.module_health = ModuleHealth(module_limits(settings))
        self.shared_health = SharedHealth(
            self.ports.cache,
            self.ports.lease,
            # unique even for two runtimes of one process (tests)
            f"{settings.router_consumer or default_consumer_name()}-{secrets.token_hex(3)}",
            self.module_health if "router" in self.services else None,
        )
        self.scheduler = Scheduler(
            self.ports.lease,
            ttl=settings.scheduler_lease_ttl_seconds,
            interval=settings.scheduler_tick_seconds,
        )
        await self._set_up_features()
        await self._add_configured_modules()
        await self.registry.start()
        self.module_schedules = ModuleSchedules(
            self.db,
            self.ports.bus,
            self.registry,
            self.find(MODULE_COMMUNITIES) or EveryCommunity(self.db),
            more=self.find(SCHEDULED_MODULES),
            timeout=settings.module_timeout_seconds,
        )
        self.scheduler.every(0, JOB_NAME, self.module_schedules.fire_due)
        self.access = Access(self.need(DIRECTORY))
        feed = self.feed
        self.completions = CompletionHub(self.ports.broadcast)
        await self.completions.start()
        cleanup.push_async_callback(self.completions.stop)
        self.router = Router(
            ports=self.ports,
            registry=self.registry,
            audit=self.audit,
            settings=settings,
            feed=feed,
            health=self.module_health,
            **router_services(self),
        )
        await feed.start()  # before the router takes work: no change it should hear is missed
        cleanup.push_async_callback(feed.stop)
        consumer = settings.router_consumer or default_consumer_name()
        if "router" in self.services:
            cleanup.enter_context(decoding_here())  # events made here are not parsed again
            for n in range(settings.router_workers):
                self._start_worker(f"{consumer}-{n}")
            # every process has a scheduler (tests tick it by hand); those running the router
            # run its loop, and the one holding its lease runs the jobs
            self.scheduler.start()
            cleanup.push_async_callback(self.scheduler.stop)
            await self._report_module_health()
        await self._start_collectors(consumer)
        if settings.gc_tuning:
            tune_gc()
        log.info(
            "waddlebot started",
            services=sorted(self.services),
            mode="distributed" if settings.distributed else "embedded",
            modules=[c.name for c in self.registry.clients()],
        )

    async def _start_collectors(self, consumer: str) -> None:
        """The collector of each platform served here and configured in the settings."""
        for platform in BUILTINS:
            if platform.name not in self.services or not platform.configured(self.settings):
                continue
            process = f"{consumer}-{platform.name}"
            collector = platform.build(self.collector_parts(process))
            self._collectors[platform.name] = collector
            self._cleanup.push_async_callback(collector.stop)  # also after a failed start
            await collector.start()
            if isinstance(collector, Watched):
                await self._report_connections(platform.name, process, collector)

    async def _report_connections(self, platform: str, process: str, source: Watched) -> None:
        """Publish the collector's connections for the portal (stopped before the collector)."""
        settings = self.settings
        reporter = ConnectionReporter(
            self.ports.cache,
            self.ports.lease,
            platform,
            process,
            source,
            interval=settings.assignment_heartbeat_seconds,
            ttl=settings.assignment_lease_ttl_seconds,
        )
        await reporter.start()
        self._cleanup.push_async_callback(reporter.stop)

    async def _report_module_health(self) -> None:
        """Publish this router's module health for the other processes to show."""
        settings = self.settings
        reporter = health_reporter(
            self.ports.cache,
            self.ports.lease,
            self.shared_health.process,
            self.module_health,
            interval=settings.assignment_heartbeat_seconds,
            ttl=settings.assignment_lease_ttl_seconds,
        )
        await reporter.start()
        self._cleanup.push_async_callback(reporter.stop)

    def collector_parts(self, consumer: str) -> CollectorParts:
        return CollectorParts(
            settings=self.settings,
            ports=self.ports,
            db=self.db,
            community=self.community,
            audit=self.audit,
            streams=self.streams,
            completions=self.completions,
            feed=self.feed,
            consumer=consumer,
        )

    def collector(self, platform: PlatformPackage[C]) -> C | None:
        """The platform's running collector (``runtime.collector(TWITCH)``), or None when
        this process does not serve it or it is not configured."""
        return cast("C | None", self._collectors.get(platform.name))

    async def _changes_broadcast(self) -> Broadcast:
        """The process's broadcast port, or the Redis named by ``changes_url``."""
        url = self._changes_url
        if not url or self.settings.redis_url:
            return self.ports.broadcast
        client = redis_client(url, max_connections=4)
        self._cleanup.push_async_callback(client.aclose)
        try:
            await client.ping()
        except Exception as exc:  # the chat still works; it only hears no changes
            log.warning("changes from other processes not heard", reason=str(exc))
            return self.ports.broadcast
        broadcast = RedisBroadcast(client, self.settings.stream_prefix)
        self._cleanup.push_async_callback(broadcast.close)
        return broadcast

    def _start_worker(self, consumer: str) -> None:
        settings = self.settings
        worker = RouterWorker(
            bus=self.ports.bus,
            broadcast=self.ports.broadcast,
            router=self.router,
            consumer=consumer,
            batch_size=settings.router_batch_size,
            block_ms=settings.router_read_block_ms,
            reclaim_idle_ms=settings.bus_reclaim_idle_ms,
        )
        worker.start()
        self.workers.append(worker)
        self._cleanup.push_async_callback(worker.close)

    async def _set_up_features(self) -> None:
        """Every built-in feature, in order: its services, its chat module, its jobs. The
        scheduler runs the jobs in the process holding its lease."""
        tools = self.provide(TOOLS, Toolbox())
        for feature in builtin_features():
            self._setting_up = feature
            await feature.setup(self)
            tools.add(feature.name, feature.tools)
            for job in feature.jobs:
                self.scheduler.every(job.seconds, job.name, functools.partial(job.run, self))
        self._setting_up = None

    def provide(self, key: Key[T], service: T) -> T:
        if key in self._provided:
            raise ValueError(f"{key.name} is provided already")
        self._provided[key] = service
        return service

    def need(self, key: Key[T]) -> T:
        if key not in self._provided:
            raise LookupError(f"no feature set up so far provides {key.name}")
        return cast("T", self._provided[key])

    def find(self, key: Key[T]) -> T | None:
        return cast("T | None", self._provided.get(key))

    def add_module(self, module: Module) -> None:
        """A built-in module, in the role the feature being set up declares for it."""
        client = LocalModuleClient(module, self.find(MODULE_STORE))
        self.registry.add(client, builtin=True)
        role = self._setting_up.module_role if self._setting_up else "module"
        if role == "fallback":
            self.registry.set_fallback(client)
        elif role == "aliases":
            self.registry.set_aliases(client)

    def on_stop(self, stop: Callable[[], Awaitable[object]]) -> None:
        self._cleanup.push_async_callback(stop)

    @property
    def direct_message_platforms(self) -> frozenset[str]:
        return direct_message_platforms(self.settings)

    async def _add_configured_modules(self) -> None:
        """The operator's modules, after every built-in one: a name or command that clashes
        with a built-in is then refused as a problem of these settings."""
        registry = self.registry
        for spec in self.settings.modules:
            with _configured_by("WADDLEBOT_MODULES", MODULES_FIX):
                module = load_module(spec)
            with _configured_by("WADDLEBOT_MODULES", CLASH_FIX):
                registry.add(LocalModuleClient(module, self.find(MODULE_STORE)))
        secret = self.settings.module_secret.get_secret_value().encode()
        if self.settings.remote_modules and not secret:
            raise ConfigurationError(
                "names modules served over HTTP, but the bot has no WADDLEBOT_MODULE_SECRET",
                setting="WADDLEBOT_REMOTE_MODULES",
                fix="Set WADDLEBOT_MODULE_SECRET for the bot too, to the same value as the "
                "module's.",
            )
        http_timeout = self.settings.http_module_timeout
        for spec in self.settings.remote_modules:
            with _configured_by("WADDLEBOT_REMOTE_MODULES", REMOTE_MODULES_FIX):
                name, url = parse_remote_spec(spec)
                client = await HttpModuleClient.connect(
                    url,
                    secret,
                    timeout=http_timeout,
                    expected_name=name,
                    store_grants=grants.grant if (grants := self.find(STORE_GRANTS)) else None,
                )
            try:
                with _configured_by("WADDLEBOT_REMOTE_MODULES", CLASH_FIX):
                    registry.add(self.guard(client))
            except ConfigurationError:
                await client.close()
                raise

    def guard(self, client: ModuleClient) -> GuardedModuleClient:
        """An external module's client behind its timeout, concurrency cap and circuit breaker
        (``WADDLEBOT_MODULE_TIMEOUTS`` may give it a timeout of its own)."""
        timeout = self.settings.module_timeouts.get(client.name)
        limits = self.module_health.defaults
        if timeout is not None:
            limits = dataclasses.replace(limits, timeout=timeout)
        return self.module_health.guard(client, limits)

    async def stop(self) -> None:
        """Stop everything that was started (also after a start that failed half way)."""
        await self._cleanup.aclose()


async def _prepare_database(settings: Settings) -> None:
    """Migrate on start, or refuse to start on a database without tables or behind the code."""
    url = settings.database_url
    with database_reached(url):
        if settings.migrate_on_start:
            await asyncio.to_thread(upgrade, url)
            return
        revision = await current_async(url)
    if (problem := schema_problem(revision)) is not None:
        raise problem


@contextlib.contextmanager
def _configured_by(setting: str, fix: str) -> Iterator[None]:
    """A module that cannot be loaded or reached is a setting to fix, said as one."""
    try:
        yield
    except ConfigurationError:
        raise
    except ModuleUnreachable as exc:
        raise ServiceUnavailable(str(exc), setting=setting, fix=fix) from exc
    except ModuleCallError as exc:
        if isinstance(exc.__cause__, SignatureError):  # it answered, signed with another secret
            raise ConfigurationError(
                str(exc).removesuffix("; is the secret right?"),
                setting="WADDLEBOT_MODULE_SECRET",
                fix="Give the bot and every module the same secret.",
            ) from exc
        raise ConfigurationError(str(exc), setting=setting, fix=fix) from exc
    except ValueError as exc:
        raise ConfigurationError(str(exc), setting=setting, fix=fix) from exc
