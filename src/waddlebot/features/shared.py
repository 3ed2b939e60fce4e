"""The services features share, by typed key: the feature named beside each provides it in
its setup, features after it (and the router) need it. A feature needing another's service
asks for its key here and never imports the other's chat module."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Annotated, TypedDict, TypeVar

from fastapi import Depends, Request

from waddlebot.core.overlay import PlayerReports
from waddlebot.features.feature import Key, Provider
from waddlebot.infra.jobs import CommunitySwitch
from waddlebot.router.views import views_of

if TYPE_CHECKING:
    from waddlebot.core.settings import CoreSettings
    from waddlebot.core.tools import Toolbox
    from waddlebot.features.alias.service import AliasService
    from waddlebot.features.calendar.events import CalendarService
    from waddlebot.features.calendar.feed import FeedService
    from waddlebot.features.calendar.reminders import ReminderJob
    from waddlebot.features.commands.service import CustomCommandService
    from waddlebot.features.community.service import CommunityService
    from waddlebot.features.community.streams import StreamStatus
    from waddlebot.features.identity.accounts import AccountService
    from waddlebot.features.identity.apikeys import KeyVerifier
    from waddlebot.features.identity.oauth_signin import OAuthSignIn
    from waddlebot.features.identity.service import IdentityService
    from waddlebot.features.identity.signin_links import SignInLinks
    from waddlebot.features.inventory.service import InventoryService
    from waddlebot.features.kong.declarative import RouteTables
    from waddlebot.features.labels.service import LabelService
    from waddlebot.features.marketplace.catalogue import Catalogue
    from waddlebot.features.marketplace.installs import Installs
    from waddlebot.features.memories.service import Memories
    from waddlebot.features.modulestore.grants import StoreGrants
    from waddlebot.features.modulestore.service import SqlStore
    from waddlebot.features.overlay.hub import OverlayHub
    from waddlebot.features.overlay.media import MediaLibrary
    from waddlebot.features.overlay.tokens import OverlayTokens
    from waddlebot.features.timers.service import TimerService
    from waddlebot.infra.audit import AuditLog
    from waddlebot.infra.db.engine import Database
    from waddlebot.infra.directory import Directory
    from waddlebot.infra.ports import Ports
    from waddlebot.infra.secretbox import SecretBox
    from waddlebot.router.modules import ModuleRegistry
    from waddlebot.router.overlays import OverlayPublisher
    from waddlebot.router.pipeline import AliasIndex, CustomCommandNames, LevelGrants
    from waddlebot.router.schedules import ModuleCommunities, ScheduledModules
    from waddlebot.router.shared_health import SharedHealth
    from waddlebot.router.views import ModuleViews
    from waddlebot.serverless.accounting import Accounting
    from waddlebot.serverless.budgets import Budgets

T = TypeVar("T")

DIRECTORY: Key[Directory] = Key("directory")  # core
TOOLS: Key[Toolbox] = Key("tools")  # the runtime: every feature's Feature.tools
MODULE_STORE: Key[SqlStore] = Key("module store")  # modulestore
STORE_GRANTS: Key[StoreGrants] = Key("store grants")
# each exposed service's route table, for Kong: only the app knows them (app.py provides it)
ROUTE_TABLES: Key[Callable[[], RouteTables]] = Key("route tables")
# what seals a new API key for Kong's key-auth; None (or absent) while the broker is off
KEY_SEALER: Key[SecretBox | None] = Key("key sealer")  # kong
KEYS: Key[KeyVerifier] = Key("keys")  # identity
IDENTITY: Key[IdentityService] = Key("identity")
ACCOUNTS: Key[AccountService] = Key("accounts")
SIGNIN_LINKS: Key[SignInLinks] = Key("sign-in links")
OAUTH_SIGNIN: Key[OAuthSignIn] = Key("oauth sign-in")
LABELS: Key[LabelService] = Key("labels")  # labels
COMMUNITY: Key[CommunityService] = Key("community")  # community
STREAMS: Key[StreamStatus] = Key("streams")
TIMERS: Key[TimerService] = Key("timers")  # timers
INVENTORY: Key[InventoryService] = Key("inventory")  # inventory
CALENDAR: Key[CalendarService] = Key("calendar")  # calendar
CALENDAR_FEEDS: Key[FeedService] = Key("calendar feeds")
CALENDAR_REMINDERS: Key[ReminderJob] = Key("calendar reminders")
OVERLAYS: Key[OverlayPublisher] = Key("overlays")  # overlay
OVERLAY_TOKENS: Key[OverlayTokens] = Key("overlay tokens")
OVERLAY_HUB: Key[OverlayHub | None] = Key("overlay hub")  # None without browser_source
OVERLAY_MEDIA: Key[MediaLibrary] = Key("overlay media")
# what the media page's player reports to (progress, a song's end): absent without music
PLAYER_REPORTS: Key[PlayerReports] = Key("player reports")  # music
MEMORIES: Key[Memories] = Key("memories")  # memories
COMMANDS: Key[CustomCommandService] = Key("commands")  # commands
ALIASES: Key[AliasService] = Key("aliases")  # alias
CATALOGUE: Key[Catalogue] = Key("catalogue")  # marketplace
INSTALLS: Key[Installs] = Key("installs")
MODULE_HEALTH: Key[SharedHealth] = Key("module health")  # every router's, for the portal
FUNCTION_BUDGETS: Key[Budgets] = Key("function budgets")  # what # commands may cost a day
FUNCTION_USAGE: Key[Accounting] = Key("function usage")
# which communities each module serves, for its scheduled handlers (without it, every one)
MODULE_COMMUNITIES: Key[ModuleCommunities] = Key("module communities")
# the modules with scheduled handlers beside the registry's (installed catalogue modules)
SCHEDULED_MODULES: Key[ScheduledModules] = Key("scheduled modules")

# What the router asks of features (the ports of router/pipeline.py); it runs without any.
GRANTS: Key[LevelGrants] = Key("level grants")  # labels
ALIAS_INDEX: Key[AliasIndex] = Key("alias index")  # alias
CUSTOM_COMMAND_NAMES: Key[CustomCommandNames] = Key("custom command names")  # commands
MODULE_VIEWS: Key[ModuleViews] = Key("module views")  # marketplace


class RouterServices(TypedDict):
    directory: Directory
    grants: LevelGrants | None
    aliases: AliasIndex | None
    overlays: OverlayPublisher | None
    custom_commands: CustomCommandNames | None
    module_views: ModuleViews | None


def router_services(host: Provider) -> RouterServices:
    """The router's arguments that features provide, once they are set up."""
    return RouterServices(
        directory=host.need(DIRECTORY),
        grants=host.find(GRANTS),
        aliases=host.find(ALIAS_INDEX),
        overlays=host.find(OVERLAYS),
        custom_commands=host.find(CUSTOM_COMMAND_NAMES),
        module_views=host.find(MODULE_VIEWS),
    )


class _SwitchOf:
    """Where a feature's module is off, asked of :data:`MODULE_VIEWS` when a job runs: the
    marketplace providing them is set up after the features whose jobs ask."""

    def __init__(self, host: Provider, module: str) -> None:
        self._host = host
        self._module = module

    async def switched_off(self, communities: Collection[int]) -> Collection[int]:
        views = self._host.find(MODULE_VIEWS)
        if views is None:  # no marketplace: every module is on everywhere
            return ()
        found = await views_of(views, communities)
        return [c for c, view in found.items() if not view.enabled(self._module)]


def module_switch(host: Provider, module: str) -> CommunitySwitch:
    """The switch of a feature's module in each community, for the feature's jobs (its
    timers, its reminders) to post nothing where the module is off."""
    return _SwitchOf(host, module)


class FeatureServices:
    """The built-in features' services as typed attributes of the host that holds them
    (``runtime.identity`` is ``runtime.need(IDENTITY)``), beside the host's shared parts:
    what a feature's HTTP routes work with (:data:`Services`)."""

    settings: CoreSettings
    ports: Ports
    db: Database
    audit: AuditLog
    registry: ModuleRegistry

    def need(self, key: Key[T]) -> T:
        raise NotImplementedError  # the runtime holds the services

    def find(self, key: Key[T]) -> T | None:
        raise NotImplementedError

    directory = DIRECTORY
    module_store = MODULE_STORE
    store_grants = STORE_GRANTS
    keys = KEYS
    identity = IDENTITY
    accounts = ACCOUNTS
    signin_links = SIGNIN_LINKS
    oauth_signin = OAUTH_SIGNIN
    labels = LABELS
    community = COMMUNITY
    streams = STREAMS
    timers = TIMERS
    inventory = INVENTORY
    calendar = CALENDAR
    calendar_feeds = CALENDAR_FEEDS
    calendar_reminders = CALENDAR_REMINDERS
    overlays = OVERLAYS
    overlay_tokens = OVERLAY_TOKENS
    overlay_hub = OVERLAY_HUB
    overlay_media = OVERLAY_MEDIA
    memories = MEMORIES
    commands = COMMANDS
    aliases = ALIASES
    catalogue = CATALOGUE
    installs = INSTALLS


def _services(request: Request) -> FeatureServices:
    host: FeatureServices = request.app.state.runtime
    return host


Services = Annotated[FeatureServices, Depends(_services)]  # the features' services, in an endpoint
