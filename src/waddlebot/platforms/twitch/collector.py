"""The Twitch collector of one process: EventSub in (webhooks served by the HTTP app, or
WebSocket connections it keeps itself), Helix out (the ``replies.twitch`` stream), the tokens
behind both, and the subscriptions each connected channel needs.

Transports. With webhooks (a public HTTPS URL), every subscription is made with the app token
and Twitch posts to ``/collectors/twitch/eventsub``. With WebSockets (a streamer on a laptop),
each connected account keeps one connection and subscribes for itself with its user token:
the bot's connections receive the chat of the connected channels and its whispers, each
broadcaster's connection the follows, subs, cheers, raids and stream state of their channel;
the processes running the service share the channels (``channels.py``).
With a conduit (a bot in many channels), the subscriptions are made once with the app token
and Twitch spreads them over the conduit's shards, WebSocket sessions that every process
running the service holds a share of (``conduit.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx2
import structlog

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.settings import CoreSettings
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.connections import Changed, Link, Watch
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Community
from waddlebot.infra.leadership import Leadership
from waddlebot.infra.ports import Ports
from waddlebot.infra.secretbox import SecretBox
from waddlebot.infra.tasks import stop_task
from waddlebot.platforms.platform import Communities, Streams
from waddlebot.platforms.twitch import status_report, token_gauge
from waddlebot.platforms.twitch.channels import WHISPERS, Share, WebSocketChannels, channel_item
from waddlebot.platforms.twitch.client import twitch_api
from waddlebot.platforms.twitch.conduit import SHARD_DISABLED, ConduitTransport
from waddlebot.platforms.twitch.connect import Connected, TwitchConnect
from waddlebot.platforms.twitch.helix import HelixError
from waddlebot.platforms.twitch.ingest import EventSubIngest
from waddlebot.platforms.twitch.outbound import TwitchOutbound
from waddlebot.platforms.twitch.settings import TwitchSettings
from waddlebot.platforms.twitch.subscriptions import (
    SubscriptionStore,
    Wanted,
    key_of,
    wanted_for_bot,
    wanted_for_channel,
)
from waddlebot.platforms.twitch.tokens import BOT_PURPOSES, TokenUnavailable
from waddlebot.platforms.twitch.translate import (
    MalformedNotification,
    Notification,
    UnsupportedSubscription,
    entity_id,
    stream_offline,
    stream_online,
)
from waddlebot.platforms.twitch.webhook import PATH as WEBHOOK_PATH
from waddlebot.platforms.twitch.webhook import EventSubReceiver

log = structlog.get_logger("waddlebot.twitch")

VALIDATE_SECONDS = 3600.0  # Twitch asks apps to validate their tokens hourly
LEASE = "twitch"
LEAD_SECONDS = 5.0  # how often the lead is renewed (or sought)
LEASE_TTL = 20.0  # a leader silent this long is replaced
STREAM_POLL_SECONDS = 300.0  # how often the leader asks Twitch which channels are live
PUBLISH_RETRIES = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between tries of a WebSocket event
PREPARE_RETRIES = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # seconds between tries to set a conduit up
WEBHOOK_SYNC_DELAY = 2.0  # let the HTTP server come up: Twitch calls it back at once


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class TwitchCollector:
    def __init__(
        self,
        settings: CoreSettings,
        *,
        ports: Ports,
        db: Database,
        community: Communities,
        audit: AuditLog,
        streams: Streams,
        consumer: str,
        clock: Clock | None = None,
        http: httpx2.AsyncClient | None = None,
    ) -> None:
        twitch = self._twitch = settings.section(TwitchSettings)
        self._settings = settings
        self._db = db
        self._streams = streams
        self._ports = ports
        self._consumer = consumer
        self._clock = clock or SystemClock()
        self._own_http = http is None
        self._http = http or httpx2.AsyncClient(timeout=10.0)
        self.transport = twitch.twitch_transport
        self.bot_user_id = ""
        self._moderated: set[str] = set()  # channels where the bot is a moderator
        self._tasks: list[asyncio.Task[None]] = []
        box = SecretBox.from_settings(settings)
        api = twitch_api(settings, db, self._http, self._clock)
        self.auth, self.tokens, self.helix = api.auth, api.tokens, api.helix
        self.subscriptions = SubscriptionStore(db)
        self.ingest = EventSubIngest(
            ports.bus,
            self.subscriptions,
            lambda: self.bot_user_id,
            on_own_chat=self._own_chat_line,
        )
        self.receiver = EventSubReceiver(
            self.ingest,
            self.subscriptions,
            twitch.twitch_eventsub_secret.get_secret_value(),
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
        self.outbound: TwitchOutbound | None = None
        self.changed = Changed()  # an EventSub session's state changed: report it at once
        self._webhook = Watch("webhook", self.changed, "webhook")
        self.conduit = ConduitTransport(
            self.helix,
            ports.lease,
            consumer,
            ws_url=twitch.twitch_eventsub_ws_url,
            shard_count=twitch.twitch_conduit_shards,
            conduit_id=twitch.twitch_conduit_id,
            leading=lambda: self.leading,
            on_notification=self._on_ws_notification,
            on_revocation=self.ingest.revocation,
            changed=self.changed,
        )
        self.channels = WebSocketChannels(
            ports.lease,
            consumer,
            url=twitch.twitch_eventsub_ws_url,
            plan=self.shares,
            create=self._create_on_session,
            delete=self._delete_on_session,
            take_over=self._delete_live,
            on_notification=self._on_ws_notification,
            on_revocation=self.ingest.revocation,
            ttl=settings.assignment_lease_ttl_seconds,
            interval=settings.assignment_heartbeat_seconds,
            changed=self.changed,
        )
        self._leadership = Leadership(
            ports.lease,
            LEASE,
            consumer,
            on_gain=self._step_up,
            on_loss=self._step_down,
            on_follow=self._load_bot,  # the bot may have been connected in another process
            on_lead=self._chores,
            ttl=LEASE_TTL,
            interval=LEAD_SECONDS,
        )
        self._next_validation = 0.0
        self._next_stream_poll = 0.0
        self._told_no_bot = False  # the warning that no bot account is connected, given

    def _new_outbound(self) -> TwitchOutbound:
        return TwitchOutbound(
            self._ports.bus,
            self.helix,
            consumer=self._consumer,
            bot_user_id=lambda: self.bot_user_id,
            is_moderator=self.is_moderator,
        )

    @property
    def public_url(self) -> str:
        settings = self._settings
        return settings.public_base_url(self._twitch.twitch_public_url)

    async def community_exists(self, community_id: int) -> bool:
        async with self._db.read_session() as session:
            return await session.get(Community, community_id) is not None

    def is_moderator(self, channel_id: str) -> bool:
        return channel_id == self.bot_user_id or channel_id in self._moderated

    # ----- life cycle -----------------------------------------------------------------------

    async def load(self) -> None:
        """Read who the bot is (what the CLI needs; :meth:`start` does it too), without the
        running collector's warning when there is none: the command being run may be the
        one that connects it."""
        await self._load_bot(quiet=True)

    async def connections(self) -> list[Link]:
        """This process's EventSub sessions (conduit shards, or the accounts' sessions), or
        the webhook every process takes deliveries on."""
        if self.transport == "conduit":
            return self.conduit.links()
        if self.transport == "websocket":
            return self.channels.links()
        return [self._webhook.link()]

    async def start(self) -> None:
        await self._load_bot()
        await self.try_lead()  # a lone process leads at once
        self._tasks.append(asyncio.create_task(self._leadership.run(), name="twitch-lead"))
        self._tasks.append(asyncio.create_task(self._report_status(), name="twitch-status"))
        if self.transport == "conduit":  # every process serves some of the shards
            self._tasks.append(asyncio.create_task(self.conduit.run(), name="twitch-conduit"))
        elif self.transport == "websocket":  # every process serves some of the channels
            await self.channels.start()
        log.info(
            "twitch collector started",
            transport=self.transport,
            bot=self.bot_user_id,
            leading=self.leading,
        )

    async def stop(self) -> None:
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await stop_task(task)
        self._tasks.clear()
        if self.transport == "conduit":
            await self.conduit.stop()
        elif self.transport == "websocket":
            await self.channels.stop()
        if self.leading:  # the page says no collector reports, rather than show it running
            with contextlib.suppress(Exception):  # else it runs out by itself
                await status_report.withdraw(self._ports.cache)
        await self._leadership.resign()
        if self._own_http:
            await self._http.aclose()

    async def after_connect(self, done: Connected) -> None:
        """An account was just connected: start listening for it (with WebSockets the
        process it is assigned to does, within a heartbeat; otherwise the leading process)."""
        if done.status.purpose in BOT_PURPOSES:
            await self._load_bot()
        if self.transport == "websocket":
            with contextlib.suppress(Exception):  # logged; the sessions resubscribe on welcome
                await self.channels.resubscribe()
            await self.publish_status()
            return
        if not self.leading:
            return
        try:
            await self.sync_subscriptions()  # the accounts already listening may need more
        except Exception:
            log.exception("twitch subscription sync failed; `waddlebot twitch subscriptions sync`")
        await self.publish_status()

    # ----- one leading process --------------------------------------------------------------
    # Twitch's chat and whisper limits hold per account: so one process (holding a lease)
    # sends, polls and validates, while every process takes webhook deliveries and serves
    # its share of the channels or conduit shards.

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks = [task for task in self._tasks if not task.done()]
        self._tasks.append(asyncio.create_task(work, name=name))

    @property
    def leading(self) -> bool:
        return self._leadership.leading

    async def try_lead(self) -> None:
        """Renew the lead, or take it when it is free (and do the leader's chores): what the
        leadership's loop does every few seconds."""
        await self._leadership.try_lead()

    async def _chores(self) -> None:
        """The leader's periodic work, each part when it is due: the streams' state and the
        token count, and the hourly token validation and subscription resync."""
        now = self._clock.now().timestamp()
        if now >= self._next_stream_poll:
            self._next_stream_poll = now + STREAM_POLL_SECONDS
            self._spawn(self.poll_streams(), "twitch-streams")
            self._spawn(self.count_tokens(), "twitch-token-count")
        if now >= self._next_validation:
            first = self._next_validation == 0.0  # just started: the subscriptions are fresh
            self._next_validation = now + VALIDATE_SECONDS
            self._spawn(self._hourly(resync=not first), "twitch-hourly")

    async def _step_up(self) -> None:
        await self._load_bot()
        self.outbound = self._new_outbound()
        await self.outbound.start()
        if self.transport == "conduit":
            self._spawn(self._prepare_conduit(), "twitch-conduit-prepare")
        elif self.transport == "webhook":
            self._spawn(self._sync_soon(), "twitch-sync")
        await self.publish_status()  # at once, not an interval after taking over

    async def _step_down(self) -> None:
        token_gauge.forget()
        if self.outbound is not None:
            await self.outbound.stop()
            self.outbound = None

    async def _load_bot(self, *, quiet: bool = False) -> None:
        bot = await self.tokens.bot()
        self.bot_user_id = bot.account_id if bot else ""
        if bot is not None:
            self._told_no_bot = False
        elif not quiet and not self._told_no_bot:  # once, not at every look a follower takes
            self._told_no_bot = True
            log.warning(
                "no Twitch bot account connected yet, so the bot cannot chat on Twitch; "
                "connect one with `waddlebot twitch connect --bot`"
            )

    async def _hourly(self, *, resync: bool) -> None:
        """Validate the tokens (as Twitch asks), and with webhooks make the subscriptions
        whole again (one revoked after an outage of ours comes back without anyone acting)."""
        await self._validate()
        if resync and self.transport in ("webhook", "conduit"):
            try:
                report = await self.sync_subscriptions()
            except Exception:
                log.exception("twitch subscription sync failed")
                return
            if report.created or report.removed:
                log.info(
                    "twitch subscriptions repaired", created=report.created, removed=report.removed
                )

    async def _validate(self) -> None:
        statuses = await self.tokens.validate_all()
        token_gauge.count(statuses)
        await self.publish_status()
        for status in statuses:
            if not status.healthy:
                log.warning(
                    "twitch token needs attention",
                    account=status.account_id,
                    login=status.login,
                    status=status.status,
                    missing_scopes=list(status.missing_scopes),
                )

    async def count_tokens(self) -> None:
        """Count the tokens for ``waddlebot_twitch_tokens`` (between validations, to show a
        token refused on use, or an account connected again, within a stream poll)."""
        token_gauge.count(await self.tokens.statuses())

    async def publish_status(self) -> None:
        """The leader's snapshot of the tokens and subscriptions, for the portal in any
        process (``status_report.py``); never fails the work that prompted it."""
        if not self.leading:
            return
        try:
            snapshot = await status_report.take(self.tokens, self.subscriptions, self.transport)
            await status_report.publish(self._ports.cache, snapshot)
        except Exception:
            log.exception("twitch status not published")

    async def _report_status(self) -> None:
        """Every so often, without a check prompting it: with WebSockets each process makes
        its channels' subscriptions, and an account is connected in any process."""
        while True:
            await asyncio.sleep(status_report.INTERVAL)
            await self.publish_status()

    # ----- stream state -------------------------------------------------------------------

    async def poll_streams(self) -> None:
        """Ask Twitch which connected channels are live: keeps ``$(game)`` fresh, and puts
        right what EventSub could not tell (a channel connected mid-stream, an offline
        missed while WaddleBot was down) with the same events stream.online/offline give."""
        for broadcaster in await self.tokens.broadcasters():
            place = entity_id(broadcaster.account_id)
            try:
                stream = await self.helix.get_stream(broadcaster.account_id)
            except HelixError as exc:
                log.warning("twitch stream state unknown", channel=place, error=str(exc))
                continue
            known = await self._streams.of(place)
            if stream is not None:
                await self._streams.set_game(place, stream.game_name)
                if known.since is None:
                    await self.ingest.publish(stream_online(broadcaster.account_id, stream))
            elif known.since is not None:
                await self.ingest.publish(
                    stream_offline(broadcaster.account_id, known.since, self._clock.now())
                )

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
            await self.channels.resubscribe()
            return report
        wanted = [w for plan in (await self.wanted()).values() for w in plan]
        ours: dict[str, str]
        if self.transport == "conduit":
            conduit = self.conduit.conduit or await self.conduit.find()
            if conduit is None:
                report.failed.append("no conduit yet: the running collector makes it")
                return report
            ours = {"method": "conduit", "conduit_id": conduit.id}
            condition = {"client_id": self._twitch.twitch_client_id, "conduit_id": conduit.id}
            wanted.append(Wanted(SHARD_DISABLED, "1", condition))
        else:
            callback = f"{self.public_url}{WEBHOOK_PATH}"
            ours = {"method": "webhook", "callback": callback, "secret": self.receiver.secret}
        existing = await self.helix.list_subscriptions()
        healthy = {}
        for subscription in existing:
            transport = subscription.get("transport") or {}
            if any(transport.get(k) != v for k, v in ours.items() if k != "secret"):
                continue  # another address's (an old public URL, another deployment)
            if subscription.get("status") in ("enabled", "webhook_callback_verification_pending"):
                healthy[key_of(subscription)] = subscription
                await self.subscriptions.record(subscription)
            else:
                await self.helix.delete_subscription(str(subscription["id"]))
                await self.subscriptions.forget(str(subscription["id"]))
                report.removed.append(f"{subscription.get('type')} ({subscription.get('status')})")
        for one in wanted:
            if one.key in healthy:
                report.present.append(one.type)
                continue
            await self._create(one, ours, None, report)
        await self.publish_status()
        return report

    # ----- a conduit ------------------------------------------------------------------------

    async def _prepare_conduit(self) -> None:
        """The leader finds (or makes, or resizes) the conduit, then subscribes through it;
        tried again, with growing pauses, while Twitch cannot be reached."""
        for delay in (*PREPARE_RETRIES, None):
            if not self.leading:
                return
            try:
                await self.conduit.prepare()
                report = await self.sync_subscriptions()
            except Exception as exc:
                if delay is None or (isinstance(exc, HelixError) and not exc.transient):
                    log.exception("twitch conduit not ready; `waddlebot twitch status` shows it")
                    return
                log.warning("twitch conduit not ready yet; retrying", retry_in=delay)
                await asyncio.sleep(delay)
                continue
            if report.created or report.removed:
                log.info(
                    "twitch conduit subscriptions", created=report.created, removed=report.removed
                )
            return

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

    # ----- websockets ---------------------------------------------------------------------

    async def shares(self) -> dict[str, Share]:
        """What the processes share on the WebSocket transport: each channel (its chat on
        the bot's session, the rest on the broadcaster's: on the bot's too when the bot is
        the broadcaster) and the bot's whispers."""
        bot = self.bot_user_id
        if not bot:
            return {}
        shares = {WHISPERS: Share(bot, wanted_for_bot(bot))}
        for broadcaster in await self.tokens.broadcasters():
            if broadcaster.status != "ok":
                continue
            chat, *own = wanted_for_channel(broadcaster.account_id, bot)
            item = channel_item(broadcaster.account_id)
            if broadcaster.account_id == bot:
                shares[item] = Share(bot, [chat, *own])
            else:
                shares[item] = Share(bot, [chat], broadcaster.account_id, own)
        return shares

    async def _on_ws_notification(self, notification: Notification) -> None:
        """A WebSocket notification onto the bus. Twitch does not redeliver on this transport,
        so a bus that fails for a moment is tried again rather than the event dropped."""
        for delay in (*PUBLISH_RETRIES, None):
            try:
                await self.ingest.notification(notification)
                return
            except (UnsupportedSubscription, MalformedNotification):
                raise  # nothing a retry would change; the socket logs it
            except Exception as exc:
                if delay is None:
                    log.error(
                        "twitch event lost: the bus refused it",
                        message_id=notification.message_id,
                        type=notification.subscription_type,
                        error=str(exc),
                    )
                    raise
                log.warning("twitch event not on the bus yet; retrying", retry_in=delay)
                await asyncio.sleep(delay)

    async def _create_on_session(
        self, wanted: Wanted, session_id: str, account_id: str
    ) -> str | None:
        """Subscribe on a WebSocket session: the new subscription's id (None: it was there)."""
        transport = {"method": "websocket", "session_id": session_id}
        try:
            created = await self.helix.create_subscription(
                wanted.type, wanted.version, wanted.condition, transport, user_token_of=account_id
            )
        except HelixError as exc:
            if exc.status == 409:
                return None
            raise
        await self.subscriptions.record(created)
        return str(created["id"])

    async def _delete_on_session(self, subscription_id: str, account_id: str) -> None:
        await self.helix.delete_subscription(subscription_id, user_token_of=account_id)
        await self.subscriptions.forget(subscription_id)

    async def _delete_live(self, account_id: str, wanted: list[Wanted]) -> None:
        """Delete those of ``wanted`` live on any WebSocket session of the account."""
        keys = {w.key for w in wanted}
        live = await self.helix.list_subscriptions("enabled", user_token_of=account_id)
        for subscription in live:
            if key_of(subscription) in keys:
                log.warning(
                    "twitch subscription still live elsewhere; deleted before taking it over",
                    type=subscription.get("type"),
                    condition=subscription.get("condition"),
                )
                await self._delete_on_session(str(subscription["id"]), account_id)

    def _own_chat_line(self, channel_id: str, badges: set[str]) -> None:
        """The bot's own line came back: its badges say whether it moderates the channel
        (and so may send 100 messages in 30 s there instead of 20)."""
        if badges & {"moderator", "broadcaster", "lead_moderator"}:
            self._moderated.add(channel_id)
        else:
            self._moderated.discard(channel_id)
