"""The Twitch collector of one process: EventSub in (webhooks served by the HTTP app, or
WebSocket connections it keeps itself), Helix out (the ``replies.twitch`` stream), the tokens
behind both, and the subscriptions each connected channel needs.

Transports. With webhooks (a public HTTPS URL), every subscription is made with the app token
and Twitch posts to ``/collectors/twitch/eventsub``. With WebSockets (a streamer on a laptop),
each connected account keeps one connection and subscribes for itself with its user token:
the bot's connection receives the chat of every connected channel and its whispers, each
broadcaster's connection the follows, subs, cheers, raids and stream state of their channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import dataclass, field

import httpx
import structlog

from waddlebot.collectors.twitch.auth import TwitchAuth
from waddlebot.collectors.twitch.connect import Connected, TwitchConnect
from waddlebot.collectors.twitch.eventsub_ws import EventSubWebSocket
from waddlebot.collectors.twitch.helix import HelixClient, HelixError
from waddlebot.collectors.twitch.ingest import EventSubIngest
from waddlebot.collectors.twitch.outbound import TwitchOutbound
from waddlebot.collectors.twitch.subscriptions import (
    SubscriptionStore,
    Wanted,
    key_of,
    wanted_for_bot,
    wanted_for_channel,
)
from waddlebot.collectors.twitch.tokens import TokenStore, TokenUnavailable
from waddlebot.collectors.twitch.webhook import PATH as WEBHOOK_PATH
from waddlebot.collectors.twitch.webhook import EventSubReceiver
from waddlebot.core.clock import Clock, SystemClock
from waddlebot.infra.db.engine import Database
from waddlebot.infra.ports import Ports
from waddlebot.infra.secretbox import SecretBox
from waddlebot.infra.tasks import stop_task
from waddlebot.services.audit import AuditLog
from waddlebot.services.community import CommunityService
from waddlebot.settings import Settings

log = structlog.get_logger("waddlebot.twitch")

VALIDATE_SECONDS = 3600.0  # Twitch asks apps to validate their tokens hourly
WEBHOOK_SYNC_DELAY = 2.0  # let the HTTP server come up: Twitch calls it back at once


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class _Tokens:
    """The token source the Helix client uses: the app token and the stored user tokens."""

    def __init__(self, auth: TwitchAuth, store: TokenStore) -> None:
        self._auth = auth
        self._store = store

    async def app_token(self, *, renew: bool = False) -> str:
        return await self._auth.app_token(renew=renew)

    async def user_token(self, account_id: str, *, renew: bool = False) -> str:
        return await self._store.access_token(account_id, renew=renew)


class TwitchCollector:
    def __init__(
        self,
        settings: Settings,
        *,
        ports: Ports,
        db: Database,
        community: CommunityService,
        audit: AuditLog,
        consumer: str,
        clock: Clock | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._settings = settings
        self._ports = ports
        self._consumer = consumer
        self._clock = clock or SystemClock()
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=10.0)
        self.transport = settings.twitch_transport
        self.bot_user_id = ""
        self._moderated: set[str] = set()  # channels where the bot is a moderator
        self._sockets: dict[str, tuple[EventSubWebSocket, asyncio.Task[None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        box = SecretBox.from_settings(settings)
        self.auth = TwitchAuth(
            self._http,
            base_url=settings.twitch_auth_url,
            client_id=settings.twitch_client_id,
            client_secret=settings.twitch_client_secret.get_secret_value(),
            clock=self._clock,
        )
        self.tokens = TokenStore(db, box, self.auth, self._clock)
        self.subscriptions = SubscriptionStore(db)
        self.ingest = EventSubIngest(
            ports.bus,
            ports.cache,
            self.subscriptions,
            lambda: self.bot_user_id,
            on_own_chat=self._own_chat_line,
        )
        self.receiver = EventSubReceiver(
            self.ingest,
            self.subscriptions,
            settings.twitch_eventsub_secret.get_secret_value(),
            self._clock,
        )
        self.connect = TwitchConnect(
            box=box,
            auth=self.auth,
            tokens=self.tokens,
            cache=ports.cache,
            community=community,
            audit=audit,
            public_url=self.public_url,
        )
        self.helix = HelixClient(
            self._http,
            base_url=settings.twitch_helix_url,
            client_id=settings.twitch_client_id,
            tokens=_Tokens(self.auth, self.tokens),
        )
        self.outbound = TwitchOutbound(
            ports.bus,
            self.helix,
            consumer=consumer,
            bot_user_id=lambda: self.bot_user_id,
            is_moderator=self.is_moderator,
        )

    @property
    def public_url(self) -> str:
        settings = self._settings
        return settings.twitch_public_url or f"http://{settings.host}:{settings.port}"

    def is_moderator(self, channel_id: str) -> bool:
        return channel_id == self.bot_user_id or channel_id in self._moderated

    # ----- life cycle -----------------------------------------------------------------------

    async def load(self) -> None:
        """Read who the bot is (what the CLI needs; :meth:`start` does it too)."""
        await self._load_bot()

    async def start(self) -> None:
        await self._load_bot()
        await self.outbound.start()
        self._tasks.append(asyncio.create_task(self._validate_forever(), name="twitch-validate"))
        if self.transport == "websocket":
            await self._open_sockets()
        else:
            self._tasks.append(asyncio.create_task(self._sync_soon(), name="twitch-sync"))
        log.info("twitch collector started", transport=self.transport, bot=self.bot_user_id)

    async def stop(self) -> None:
        for task in self._tasks:
            await stop_task(task)
        for socket, task in list(self._sockets.values()):
            await socket.stop()
            await stop_task(task)
        self._sockets.clear()
        await self.outbound.stop()
        if self._own_http:
            await self._http.aclose()

    async def after_connect(self, done: Connected) -> None:
        """An account was just connected: start listening for it."""
        if done.status.purpose == "bot":
            await self._load_bot()
        if self.transport == "websocket":
            await self._open_sockets()  # a new account's connection subscribes when welcomed
        await self.sync_subscriptions()  # the accounts already listening may need more

    async def _load_bot(self) -> None:
        bot = await self.tokens.bot()
        self.bot_user_id = bot.account_id if bot else ""
        if bot is None:
            log.warning("no Twitch bot account connected yet: run `waddlebot twitch connect --bot`")

    async def _validate_forever(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                for status in await self.tokens.validate_all():
                    if not status.healthy:
                        log.warning(
                            "twitch token needs attention",
                            account=status.account_id,
                            login=status.login,
                            status=status.status,
                            missing_scopes=list(status.missing_scopes),
                        )
            await asyncio.sleep(VALIDATE_SECONDS)

    # ----- what each account listens to -----------------------------------------------------

    async def wanted(self) -> dict[str, list[Wanted]]:
        """The subscriptions each account answers for (the bot: chat and whispers; each
        broadcaster: the rest of their channel)."""
        if not self.bot_user_id:
            return {}
        broadcasters = [b for b in await self.tokens.broadcasters() if b.status == "ok"]
        plan: dict[str, list[Wanted]] = {self.bot_user_id: wanted_for_bot(self.bot_user_id)}
        for broadcaster in broadcasters:
            channel = wanted_for_channel(broadcaster.account_id, self.bot_user_id)
            plan[self.bot_user_id].append(channel[0])  # chat is read as the bot
            plan.setdefault(broadcaster.account_id, []).extend(channel[1:])
        return plan

    # ----- webhooks -------------------------------------------------------------------------

    async def _sync_soon(self) -> None:
        await asyncio.sleep(WEBHOOK_SYNC_DELAY)
        try:
            await self.sync_subscriptions()
        except Exception:
            log.exception("twitch subscription sync failed; `waddlebot twitch subscriptions sync`")

    async def sync_subscriptions(self) -> SyncReport:
        """Make Twitch's subscriptions match what the connected accounts need: create what is
        missing, remove what failed or was revoked (and create it again)."""
        report = SyncReport()
        if self.transport == "websocket":
            for account_id, (socket, _) in self._sockets.items():
                if socket.session_id:
                    await self._subscribe(account_id, socket.session_id, report)
            return report
        existing = await self.helix.list_subscriptions()
        healthy = {}
        for subscription in existing:
            if subscription.get("status") in ("enabled", "webhook_callback_verification_pending"):
                healthy[key_of(subscription)] = subscription
                await self.subscriptions.record(subscription)
            else:
                await self.helix.delete_subscription(str(subscription["id"]))
                await self.subscriptions.forget(str(subscription["id"]))
                report.removed.append(f"{subscription.get('type')} ({subscription.get('status')})")
        transport = {
            "method": "webhook",
            "callback": f"{self.public_url}{WEBHOOK_PATH}",
            "secret": self.receiver.secret,
        }
        for wanted in [w for plan in (await self.wanted()).values() for w in plan]:
            if wanted.key in healthy:
                report.present.append(wanted.type)
                continue
            await self._create(wanted, transport, None, report)
        return report

    async def _create(
        self, wanted: Wanted, transport: dict[str, str], account_id: str | None, report: SyncReport
    ) -> None:
        try:
            created = await self.helix.create_subscription(
                wanted.type, wanted.version, wanted.condition, transport, user_token_of=account_id
            )
        except (HelixError, TokenUnavailable) as exc:
            if isinstance(exc, HelixError) and exc.status == 409:
                report.present.append(wanted.type)
                return
            log.error(
                "twitch subscription not created",
                type=wanted.type,
                condition=wanted.condition,
                error=str(exc),
            )
            report.failed.append(f"{wanted.type}: {exc}")
            return
        await self.subscriptions.record(created)
        report.created.append(wanted.type)

    # ----- websockets -----------------------------------------------------------------------

    async def _open_sockets(self) -> None:
        for account_id in await self.wanted():
            if account_id in self._sockets:
                continue
            socket = EventSubWebSocket(
                self._settings.twitch_eventsub_ws_url,
                on_notification=self.ingest.notification,
                on_revocation=self.ingest.revocation,
                on_welcome=functools.partial(self._on_welcome, account_id),
                name=account_id,
            )
            task = asyncio.create_task(socket.run(), name=f"twitch-ws-{account_id}")
            self._sockets[account_id] = (socket, task)

    async def _on_welcome(self, account_id: str, session_id: str) -> None:
        await self._subscribe(account_id, session_id, SyncReport())

    async def _subscribe(self, account_id: str, session_id: str, report: SyncReport) -> None:
        plan = (await self.wanted()).get(account_id, [])
        transport = {"method": "websocket", "session_id": session_id}
        await asyncio.gather(
            *(self._create(wanted, transport, account_id, report) for wanted in plan)
        )

    def _own_chat_line(self, channel_id: str, badges: set[str]) -> None:
        """The bot's own line came back: its badges say whether it moderates the channel
        (and so may send 100 messages in 30 s there instead of 20)."""
        if badges & {"moderator", "broadcaster", "lead_moderator"}:
            self._moderated.add(channel_id)
        else:
            self._moderated.discard(channel_id)
