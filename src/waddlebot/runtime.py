"""Composes the services of one process from settings: ports, database, modules, router
workers and collectors. ``waddlebot up`` runs them all; ``waddlebot serve <service>`` one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator
from typing import TypeVar, cast

import structlog

from waddlebot.core.errors import ConfigurationError
from waddlebot.features.alias.module import build_alias_module
from waddlebot.features.alias.service import AliasService
from waddlebot.features.calendar import CalendarService, FeedService, ReminderJob
from waddlebot.features.calendar.module import build_calendar_module
from waddlebot.features.commands.module import build_commands_module
from waddlebot.features.commands.service import CustomCommandService
from waddlebot.features.community.directory import Directory
from waddlebot.features.community.module import build_community_module
from waddlebot.features.community.service import CommunityService
from waddlebot.features.community.streams import StreamStatus
from waddlebot.features.core.module import build_core_module
from waddlebot.features.identity.accounts import AccountService
from waddlebot.features.identity.apikeys import KeyVerifier
from waddlebot.features.identity.module import build_identity_module
from waddlebot.features.identity.service import IdentityService
from waddlebot.features.inventory.module import build_inventory_module
from waddlebot.features.inventory.service import InventoryService
from waddlebot.features.labels.module import build_labels_module
from waddlebot.features.labels.service import LabelService
from waddlebot.features.memories.chat import build_memories_module
from waddlebot.features.memories.service import Memories
from waddlebot.features.overlay.hub import OverlayHub
from waddlebot.features.overlay.module import build_overlay_module
from waddlebot.features.overlay.publisher import OverlayPublisher
from waddlebot.features.overlay.tokens import OverlayTokens, public_base_url
from waddlebot.features.timers.module import build_timers_module
from waddlebot.features.timers.service import TimerService
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.completion import CompletionHub
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.migrate import current_async, upgrade
from waddlebot.infra.db.problems import database_reached, no_tables
from waddlebot.infra.factory import build_ports
from waddlebot.infra.gc import tune_gc
from waddlebot.infra.ports import Broadcast, Ports
from waddlebot.infra.redis_ports import RedisBroadcast, redis_client
from waddlebot.infra.scheduler import Scheduler
from waddlebot.infra.secretbox import SecretBox
from waddlebot.infra.signing import SignatureError
from waddlebot.infra.urlfetch import UrlFetcher
from waddlebot.platforms import BUILTINS, NAMES, direct_message_platforms
from waddlebot.platforms.platform import Collector, CollectorParts, PlatformPackage
from waddlebot.router import Router, RouterWorker
from waddlebot.router.dead_letters import DeadLetters
from waddlebot.router.modules import LocalModuleClient, ModuleRegistry
from waddlebot.router.remote import HttpModuleClient, ModuleCallError, parse_remote_spec
from waddlebot.router.worker import default_consumer_name
from waddlebot.sdk.loader import load_module
from waddlebot.settings import Settings
from waddlebot.web.access import Access

log = structlog.get_logger("waddlebot.runtime")

SERVICES = ("api", "router", *NAMES, "browser_source")
MODULES_FIX = "Each is package.module:attribute, importable from where waddlebot starts."
REMOTE_MODULES_FIX = (
    "Each is name=http://host:port of a running `waddlebot serve module:...`, started first."
)
CLASH_FIX = "Give it a name and commands no built-in or other module has."
PURGE_LABELS_SECONDS = 3600  # expired label assignments are deleted hourly

C = TypeVar("C", bound=Collector)


class Runtime:
    """Everything one process runs. Build with :meth:`start`, end with :meth:`stop`."""

    ports: Ports
    feed: ChangeFeed
    db: Database
    audit: AuditLog
    directory: Directory
    registry: ModuleRegistry
    completions: CompletionHub
    dead_letters: DeadLetters
    keys: KeyVerifier
    identity: IdentityService
    labels: LabelService
    access: Access
    accounts: AccountService
    community: CommunityService
    commands: CustomCommandService
    timers: TimerService
    memories: Memories
    inventory: InventoryService
    calendar: CalendarService
    calendar_feeds: FeedService
    calendar_reminders: ReminderJob
    scheduler: Scheduler
    aliases: AliasService
    streams: StreamStatus
    router: Router
    overlays: OverlayPublisher
    overlay_tokens: OverlayTokens
    overlay_hub: OverlayHub | None

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
        self.overlay_hub = None
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
        self.directory = Directory(self.db, default_prefix=settings.default_prefix)
        self.keys = KeyVerifier(self.db)
        feed = self.feed
        self.identity = IdentityService(
            self.db, self.ports.cache, self.audit, self.directory, feed=feed
        )
        self.labels = LabelService(self.db, self.audit, cache=self.ports.cache, feed=feed)
        self.access = Access(self.directory)
        self.accounts = AccountService(
            self.db, self.ports.cache, self.audit, self.ports.ratelimiter
        )
        self.community = CommunityService(
            self.db, self.directory, self.ports.cache, self.audit, feed=feed
        )
        self.registry = ModuleRegistry()
        cleanup.push_async_callback(self.registry.close)
        await self._add_modules()
        self.completions = CompletionHub(self.ports.broadcast)
        await self.completions.start()
        cleanup.push_async_callback(self.completions.stop)
        self.router = Router(
            ports=self.ports,
            directory=self.directory,
            registry=self.registry,
            audit=self.audit,
            settings=settings,
            grants=self.labels,
            aliases=self.aliases,
            overlays=self.overlays,
            custom_commands=self.commands,
            feed=feed,
        )
        await feed.start()  # before the router takes work: no change it should hear is missed
        cleanup.push_async_callback(feed.stop)
        consumer = settings.router_consumer or default_consumer_name()
        if "router" in self.services:
            for n in range(settings.router_workers):
                self._start_worker(f"{consumer}-{n}")
        self._start_scheduler()
        await self._start_collectors(consumer)
        if "browser_source" in self.services:
            self.overlay_hub = OverlayHub(
                self.ports.broadcast,
                self.ports.cache,
                max_connections=settings.overlay_max_connections,
                queue_size=settings.overlay_send_queue,
                heartbeat=settings.overlay_heartbeat_seconds,
            )
            await self.overlay_hub.start()
            cleanup.push_async_callback(self.overlay_hub.stop)
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
            collector = platform.build(self._collector_parts(f"{consumer}-{platform.name}"))
            self._collectors[platform.name] = collector
            self._cleanup.push_async_callback(collector.stop)  # also after a failed start
            await collector.start()

    def _collector_parts(self, consumer: str) -> CollectorParts:
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
            reclaim_idle_ms=settings.bus_reclaim_idle_ms,
        )
        worker.start()
        self.workers.append(worker)
        self._cleanup.push_async_callback(worker.close)

    def _start_scheduler(self) -> None:
        """The periodic jobs. Every process has a scheduler (tests tick it by hand); those
        running the router run its loop, and the one holding its lease runs the jobs."""
        settings = self.settings
        self.scheduler = Scheduler(
            self.ports.lease,
            ttl=settings.scheduler_lease_ttl_seconds,
            interval=settings.scheduler_tick_seconds,
        )
        self.scheduler.every(0, "timers", self.timers.fire_due)
        self.scheduler.every(0, "reminders", self.memories.reminders.fire_due)
        self.scheduler.every(0, "calendar.reminders", self.calendar_reminders.fire_due)
        self.scheduler.every(PURGE_LABELS_SECONDS, "labels.purge", self.labels.purge_expired)
        if "router" in self.services:
            self.scheduler.start()
            self._cleanup.push_async_callback(self.scheduler.stop)

    async def _add_modules(self) -> None:
        registry = self.registry
        registry.add(
            LocalModuleClient(build_core_module(lambda: [r.spec for r in registry.routes()])),
            builtin=True,
        )
        dm_platforms = direct_message_platforms(self.settings)
        registry.add(
            LocalModuleClient(build_identity_module(self.identity, dm_platforms)), builtin=True
        )
        find_user = self.identity.find_user
        registry.add(LocalModuleClient(build_labels_module(self.labels, find_user)), builtin=True)
        registry.add(
            LocalModuleClient(build_community_module(self.community, find_user)), builtin=True
        )
        self.timers = TimerService(self.db, self.audit, self.ports.cache, self.ports.bus)
        registry.add(LocalModuleClient(build_timers_module(self.timers)), builtin=True)
        self._add_inventory_and_calendar()
        self._add_overlays(dm_platforms)
        self.commands = CustomCommandService(self.db, self.audit, self.ports.cache, feed=self.feed)
        self.aliases = AliasService(self.db, self.ports.cache, self.audit, feed=self.feed)
        self.streams = StreamStatus(self.db, self.ports.cache)
        self.memories = Memories(self.db, self.audit, self.ports.bus, self.community.timezone)
        memories = build_memories_module(self.memories, self.identity.find_user, self.streams)
        registry.add(LocalModuleClient(memories), builtin=True)
        custom = LocalModuleClient(
            build_commands_module(
                self.commands,
                UrlFetcher(),
                reserved=registry.declared_names,
                alias_exists=self._alias_exists,
                streams=self.streams,
            )
        )
        registry.add(custom, builtin=True)
        registry.set_fallback(custom)
        aliases = LocalModuleClient(
            build_alias_module(
                self.aliases, reserved=registry.declared_names, custom_exists=self._custom_exists
            )
        )
        registry.add(aliases, builtin=True)
        registry.set_aliases(aliases)
        await self._add_configured_modules()

    async def _add_configured_modules(self) -> None:
        """The operator's modules, after every built-in one: a name or command that clashes
        with a built-in is then refused as a problem of these settings."""
        registry = self.registry
        for spec in self.settings.modules:
            with _configured_by("WADDLEBOT_MODULES", MODULES_FIX):
                module = load_module(spec)
            with _configured_by("WADDLEBOT_MODULES", CLASH_FIX):
                registry.add(LocalModuleClient(module))
        secret = self.settings.module_secret.get_secret_value().encode()
        if self.settings.remote_modules and not secret:
            raise ConfigurationError(
                "names modules served over HTTP, but the bot has no WADDLEBOT_MODULE_SECRET",
                setting="WADDLEBOT_REMOTE_MODULES",
                fix="Set WADDLEBOT_MODULE_SECRET for the bot too, to the same value as the "
                "module's.",
            )
        for spec in self.settings.remote_modules:
            with _configured_by("WADDLEBOT_REMOTE_MODULES", REMOTE_MODULES_FIX):
                name, url = parse_remote_spec(spec)
                client = await HttpModuleClient.connect(
                    url, secret, timeout=self.settings.module_timeout_seconds, expected_name=name
                )
            try:
                with _configured_by("WADDLEBOT_REMOTE_MODULES", CLASH_FIX):
                    registry.add(client)
            except ConfigurationError:
                await client.close()
                raise

    def _add_inventory_and_calendar(self) -> None:
        settings, registry = self.settings, self.registry
        self.inventory = InventoryService(self.db, self.audit)
        zone = self.community.timezone
        inventory = build_inventory_module(self.inventory, self.identity.find_user, zone)
        registry.add(LocalModuleClient(inventory), builtin=True)
        self.calendar = CalendarService(self.db, self.audit, self.labels)
        self.calendar_feeds = FeedService(self.db, self.audit, self.calendar)
        self.calendar_reminders = ReminderJob(self.db, self.ports.bus)
        base_url = settings.calendar_public_url or f"http://{settings.host}:{settings.port}"
        calendar = build_calendar_module(self.calendar, self.calendar_feeds, zone, base_url)
        registry.add(LocalModuleClient(calendar), builtin=True)

    def _add_overlays(self, dm_platforms: frozenset[str]) -> None:
        settings = self.settings
        self.overlays = OverlayPublisher(
            self.ports.cache,
            self.ports.broadcast,
            max_bytes=settings.overlay_max_message_bytes,
            ticker_per_minute=settings.overlay_ticker_per_minute,
        )
        self.overlay_tokens = OverlayTokens(
            self.db, self.overlays, lambda: SecretBox.from_settings(settings)
        )
        module = build_overlay_module(
            self.overlay_tokens,
            base_url=public_base_url(settings.overlay_public_url, settings.host, settings.port),
            direct_message_platforms=dm_platforms,
        )
        self.registry.add(LocalModuleClient(module), builtin=True)

    async def _alias_exists(self, community_id: int, name: str) -> bool:
        return await self.aliases.lookup(community_id, name) is not None

    async def _custom_exists(self, community_id: int, name: str) -> bool:
        return await self.commands.get(community_id, name) is not None

    async def stop(self) -> None:
        """Stop everything that was started (also after a start that failed half way)."""
        await self._cleanup.aclose()


async def _prepare_database(settings: Settings) -> None:
    """Migrate on start, or refuse to start on a database without tables."""
    url = settings.database_url
    with database_reached(url):
        if settings.migrate_on_start:
            await asyncio.to_thread(upgrade, url)
            return
        revision = await current_async(url)
    if revision is None:
        raise no_tables()


@contextlib.contextmanager
def _configured_by(setting: str, fix: str) -> Iterator[None]:
    """A module that cannot be loaded or reached is a setting to fix, said as one."""
    try:
        yield
    except ConfigurationError:
        raise
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
