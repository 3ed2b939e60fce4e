"""``FakeTwitch``: OAuth, Helix and EventSub (WebSocket and webhook) on one loopback port.

async with FakeTwitch(helix_points_per_minute=30, ws_keepalive_interval=0.2) as twitch:
    app = twitch.register_client()
    bot = twitch.add_user("9001", "waddlebot")
    ...
    await twitch.emit("channel.follow", payloads.follow(broadcaster="1337", user=viewer))
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, WebSocketRoute

from tests.support.harness import serving_app

from ..background import BackgroundTasks
from . import payloads
from .conduits import Conduits
from .delivery import Delivery, Notifier
from .eventsub_ws import WsHub
from .helix_chat import HelixChat
from .helix_data import HelixData
from .helix_gate import HelixGate
from .limits import most_in_any_window
from .model import (
    ChatRecord,
    Client,
    Clip,
    Conduit,
    Shard,
    ShoutoutRecord,
    Stream,
    Subscription,
    Token,
    TwitchState,
    User,
    WhisperRecord,
)
from .oauth import OAuth
from .subscriptions import Subscriptions
from .webhook import WebhookResult, WebhookSender
from .wire import new_token, new_uuid, rfc3339_ns


class FakeTwitch:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        now_ns: Callable[[], int] = time.time_ns,
        helix_points_per_minute: int = 800,
        app_token_lifetime: int = 5_011_271,
        user_token_lifetime: int = 14_400,
        ws_keepalive_interval: float | None = None,
        ws_unused_timeout: float | None = None,
        ws_reconnect_grace: float = 30.0,
        ws_keepalive_bounds: tuple[int, int] = (10, 600),
        webhook_timeout: float = 5.0,
        webhook_retries: int = 3,
        webhook_backoff: float = 1.0,
        webhook_failures_to_revoke: int = 3,
        echo_chat: bool = True,
    ) -> None:
        """``clock`` (Unix seconds) drives token expiry, Helix points, chat/whisper/shoutout
        limits and ``Ratelimit-Reset``; ``now_ns`` stamps messages. The ``ws_*`` knobs shorten
        the WebSocket timers for tests: the keepalive sending interval (default: 0.9 x the
        advertised keepalive timeout), the unused-connection window before 4003 (default: the
        keepalive timeout, as Twitch), the reconnect grace before 4004, and the clamp range of
        ``keepalive_timeout_seconds``. ``echo_chat`` delivers the bot's own chat messages and
        whispers back over EventSub, as Twitch does."""
        self.state = TwitchState(
            clock,
            now_ns,
            app_token_lifetime=app_token_lifetime,
            user_token_lifetime=user_token_lifetime,
        )
        self.oauth = OAuth(self.state)
        self.gate = HelixGate(self.state, helix_points_per_minute)
        self.webhooks = WebhookSender(
            timeout=webhook_timeout, retries=webhook_retries, backoff=webhook_backoff, now_ns=now_ns
        )
        self.hub = WsHub(
            now_ns=now_ns,
            on_session_end=self._session_ended,
            keepalive_interval=ws_keepalive_interval,
            unused_timeout=ws_unused_timeout,
            reconnect_grace=ws_reconnect_grace,
            keepalive_bounds=ws_keepalive_bounds,
        )
        self.eventsub = Subscriptions(self.state, self.hub, self.webhooks, self._spawn)
        self.conduits = Conduits(
            self.state, self.hub, self.webhooks, self._spawn, self._shard_disabled
        )
        self.notifier = Notifier(
            self.state, self.hub, self.webhooks, self.conduits, webhook_failures_to_revoke
        )
        self.data = HelixData(self.state)
        self.chat = HelixChat(self.state)
        if echo_chat:
            self.chat.on_chat_sent = self._echo_chat
            self.chat.on_whisper_sent = self._echo_whisper
        self.base_url = self.helix_url = self.auth_url = self.eventsub_ws_url = ""
        self.background = BackgroundTasks("fake Twitch")
        self._chat_events: dict[str, dict[str, Any]] = {}
        self._stack = contextlib.AsyncExitStack()

    # --- lifecycle -----------------------------------------------------------------------------

    def app(self) -> Starlette:
        helix = [
            *self.data.routes(self.gate),
            *self.chat.routes(self.gate),
            *self.eventsub.routes(self.gate),
            *self.conduits.routes(self.gate),
        ]
        return Starlette(
            routes=[
                Mount("/oauth2", routes=self.oauth.routes()),
                Mount("/helix", routes=helix),
                WebSocketRoute("/ws", self.hub.endpoint),
            ]
        )

    async def __aenter__(self) -> FakeTwitch:
        self.base_url = await self._stack.enter_async_context(serving_app(self.app()))
        self.helix_url = f"{self.base_url}/helix"
        self.auth_url = f"{self.base_url}/oauth2"
        self.eventsub_ws_url = self.hub.url = "ws" + self.base_url.removeprefix("http") + "/ws"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.background.cancel()
        await self.hub.close_all()
        await self.webhooks.aclose()
        await self._stack.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.background.spawn(coro)

    async def settle(self) -> None:
        """Wait for background work (webhook challenges, chat echoes) and raise its errors."""
        await self.background.settle()

    # --- apps, users, tokens -------------------------------------------------------------------

    def register_client(
        self,
        client_id: str | None = None,
        secret: str | None = None,
        redirect_uris: Iterable[str] = (),
    ) -> Client:
        client = Client(client_id or new_token(), secret or new_token(), tuple(redirect_uris))
        self.state.clients[client.client_id] = client
        return client

    def add_user(
        self,
        user_id: str,
        login: str = "",
        display_name: str = "",
        *,
        moderator_of: Iterable[str] = (),
        broadcaster_type: str = "",
    ) -> User:
        user = User(user_id, login, display_name, broadcaster_type, set(moderator_of))
        self.state.users[user.id] = user
        return user

    def authorize_as(self, user_id: str | None) -> None:
        """The user who approves the next ``/oauth2/authorize`` requests."""
        self.oauth.signed_in_user = user_id

    def deny_next_authorization(self) -> None:
        self.oauth.deny_next = True

    def grant(self, client_id: str, user_id: str, *scopes: str) -> None:
        """Record that ``user_id`` authorized the app with ``scopes`` (as the OAuth flow does)."""
        self.state.grants.setdefault((client_id, user_id), set()).update(scopes)

    def issue_app_token(self, client_id: str) -> Token:
        return self.oauth.issue(client_id, None)

    def issue_user_token(self, client_id: str, user_id: str, *scopes: str) -> Token:
        return self.oauth.issue(client_id, user_id, scopes)

    def token(self, access_token: str) -> Token:
        return self.state.tokens[access_token]

    def expire(self, access_token: str) -> None:
        self.state.tokens[access_token].expires_at = self.state.clock()

    def revoke_token(self, access_token: str) -> None:
        self.state.tokens[access_token].revoked = True

    async def disconnect_app(self, client_id: str, user_id: str) -> list[Delivery]:
        """The user disconnects the app on Twitch: its grants and tokens (refresh tokens too)
        die, and every subscription that needed their authorization is revoked
        (``authorization_revoked``)."""
        self.state.grants.pop((client_id, user_id), None)
        for token in self.state.tokens.values():
            if token.client_id == client_id and token.user_id == user_id:
                token.revoked = True
        for refresh, token in list(self.state.refresh_tokens.items()):
            if token.client_id == client_id and token.user_id == user_id:
                del self.state.refresh_tokens[refresh]  # refreshing cannot bring them back
        revoked = []
        for subscription in self.eventsub.needing_authorization(client_id, user_id):
            revoked.append(await self.notifier.revoke(subscription, "authorization_revoked"))
        return revoked

    def set_token_lifetimes(self, *, app: int | None = None, user: int | None = None) -> None:
        """Lifetimes (seconds) of tokens issued from now on."""
        if app is not None:
            self.state.app_token_lifetime = app
        if user is not None:
            self.state.user_token_lifetime = user

    @property
    def validate_calls(self) -> int:
        return self.state.validate_calls

    # --- channels -----------------------------------------------------------------------------

    async def go_live(
        self,
        user_id: str,
        *,
        title: str = "Live!",
        game_id: str = "509658",
        game_name: str = "Just Chatting",
        viewer_count: int = 1,
        emit: bool = True,
    ) -> Stream:
        stream_id = str(secrets.randbelow(10**11))
        stream = Stream(
            user_id, stream_id, title, game_id, game_name, viewer_count, self.state.clock()
        )
        self.state.streams[user_id] = stream
        if user_id in self.state.users:  # the channel's information follows the stream
            self.set_channel(user_id, game_id=game_id, game_name=game_name, title=title)
        if emit:
            started = rfc3339_ns(self.state.now_ns())
            event = payloads.stream_online(
                broadcaster=self.state.user(user_id), stream_id=stream.id, started_at=started
            )
            await self.emit("stream.online", event)
        return stream

    async def go_offline(self, user_id: str, *, emit: bool = True) -> None:
        self.state.streams.pop(user_id, None)
        if emit:
            await self.emit(
                "stream.offline", payloads.stream_offline(broadcaster=self.state.user(user_id))
            )

    def add_clip(
        self,
        broadcaster_id: str,
        title: str = "A clip",
        *,
        clip_id: str | None = None,
        game_id: str = "",
        creator_id: str = "",
        view_count: int = 0,
        duration: float = 30.0,
        age: float = 0.0,
    ) -> Clip:
        """A clip made ``age`` seconds ago (by the fake's clock)."""
        clip = Clip(
            clip_id or new_uuid(),
            broadcaster_id,
            title,
            game_id,
            creator_id,
            view_count,
            duration,
            self.state.clock() - age,
        )
        self.state.clips.append(clip)
        return clip

    def set_channel(self, user_id: str, *, game_id: str, game_name: str, title: str = "") -> None:
        """What Get Channel Information says of the channel (its last category)."""
        user = self.state.users[user_id]
        user.game_id, user.game_name, user.title = game_id, game_name, title

    # --- what the bot sent ----------------------------------------------------------------------

    def drop_next_chat(self, code: str, message: str | None = None, count: int = 1) -> None:
        """The next ``count`` chat messages come back ``is_sent: false`` with this drop reason."""
        self.chat.drop_next(code, message, count)

    def drop_chat_in(self, channel_id: str, code: str | None, message: str | None = None) -> None:
        """Drop every message to ``channel_id`` with this reason (``code=None`` stops it)."""
        self.chat.drop_in(channel_id, code, message)

    def add_chat_message(self, channel_id: str, message_id: str) -> None:
        """A chat message exists in ``channel_id`` (one a reply may hang from) without any
        EventSub delivery."""
        self.state.chat_messages[message_id] = channel_id

    @property
    def chat_log(self) -> list[ChatRecord]:
        """Every Send Chat Message the fake answered, sent or dropped."""
        return self.state.chat_log

    def sent_chat(
        self, channel_id: str | None = None, sender_id: str | None = None
    ) -> list[ChatRecord]:
        """Accepted chat messages, oldest first, optionally of one channel and/or sender."""
        return [
            r
            for r in self.state.chat_log
            if r.is_sent and channel_id in (None, r.channel_id) and sender_id in (None, r.sender_id)
        ]

    @property
    def chat_violations(self) -> list[ChatRecord]:
        """Messages over Twitch's chat limit (dropped with ``msg_ratelimit``)."""
        return self.chat.violations

    def most_chat_in_window(
        self, channel_id: str, window: float = 30.0, sender_id: str | None = None
    ) -> int:
        """The most accepted messages in ``channel_id`` within any ``window`` seconds."""
        return most_in_any_window([r.at for r in self.sent_chat(channel_id, sender_id)], window)

    @property
    def whispers(self) -> list[WhisperRecord]:
        return self.state.whispers

    def mark_whispered(self, from_user_id: str, to_user_id: str) -> None:
        """Record that ``from_user_id`` has whispered ``to_user_id`` before."""
        self.chat.mark_whispered(from_user_id, to_user_id)

    @property
    def shoutouts(self) -> list[ShoutoutRecord]:
        return self.state.shoutouts

    # --- EventSub ----------------------------------------------------------------------------

    def subscriptions(
        self, type_: str | None = None, status: str | None = None
    ) -> list[Subscription]:
        return [
            s
            for s in self.state.subscriptions.values()
            if type_ in (None, s.type) and status in (None, s.status)
        ]

    @property
    def twin_subscriptions(self) -> list[tuple[Subscription, Subscription]]:
        """WebSocket subscriptions made while the same one was live on another session."""
        return self.eventsub.twins

    async def emit(
        self,
        type_: str,
        event: dict[str, Any] | None = None,
        *,
        version: str | None = None,
        **overrides: Any,
    ) -> list[Delivery]:
        """Deliver an event to every enabled subscription of ``type_`` whose condition matches it.
        Without ``event``, the official example is used; ``overrides`` replace its fields."""
        body = dict(event) if event is not None else payloads.example_event(type_)
        body.update(overrides)
        if type_ == "channel.chat.message" and "message_id" in body:
            self._chat_events[body["message_id"]] = body
            self.state.chat_messages[body["message_id"]] = str(body.get("broadcaster_user_id"))
        return await self.notifier.emit(type_, body, version)

    async def revoke_subscription(
        self, subscription_id: str, status: str = "authorization_revoked"
    ) -> Delivery:
        return await self.notifier.revoke(self.state.subscriptions[subscription_id], status)

    @property
    def deliveries(self) -> list[Delivery]:
        return self.notifier.deliveries

    @property
    def webhook_log(self) -> list[WebhookResult]:
        """Every webhook request the fake sent (challenges, notifications, revocations)."""
        return self.webhooks.log

    @property
    def ws_sessions(self) -> list[str]:
        return list(self.hub.sessions)

    async def ws_reconnect(self, session_id: str | None = None) -> list[str]:
        """Send ``session_reconnect`` (to one session, default all); returns the reconnect URLs."""
        return await self.hub.reconnect(session_id)

    async def ws_close(self, session_id: str, code: int = 4000) -> None:
        """End a session the way Twitch would, e.g. 4000 internal error or 4005 network timeout."""
        await self.hub.end(self.hub.sessions[session_id], code)

    def ws_pause_keepalives(self, session_id: str, paused: bool = True) -> None:
        """Stop keepalives on a session, so a client's silence detection can be tested."""
        self.hub.sessions[session_id].keepalives_paused = paused

    def _session_ended(self, session_id: str, status: str) -> None:
        self.eventsub.session_ended(session_id, status)
        self.conduits.session_ended(session_id, status)

    # --- conduits ---------------------------------------------------------------------------

    def conduit_list(self, client_id: str | None = None) -> list[Conduit]:
        return [c for c in self.state.conduits.values() if client_id in (None, c.client_id)]

    def shards(self, conduit_id: str | None = None, status: str | None = None) -> list[Shard]:
        """The shards of a conduit (default: of every one), optionally in one status."""
        return [
            shard
            for conduit in self.state.conduits.values()
            if conduit_id in (None, conduit.id)
            for shard in conduit.shards
            if status in (None, shard.status)
        ]

    def disable_shard(
        self, conduit_id: str, shard_id: str, status: str = "websocket_disconnected"
    ) -> None:
        """Twitch disables a shard (its session stays open): ``conduit.shard.disabled``
        subscribers are told."""
        conduit = self.state.conduits[conduit_id]
        self.conduits.disable(conduit, conduit.shards[int(shard_id)], status)

    def _shard_disabled(self, conduit: Conduit, shard: Shard) -> None:
        event = {"conduit_id": conduit.id, "shard_id": shard.id, **shard.public()}
        del event["id"]
        self._spawn(self._emit_shard_disabled(conduit.client_id, event))

    async def _emit_shard_disabled(self, client_id: str, event: dict[str, Any]) -> None:
        await self.notifier.emit("conduit.shard.disabled", event, client_id=client_id)

    # --- echoes of what the bot sent --------------------------------------------------------

    def _echo_chat(self, record: ChatRecord) -> None:
        parent = self._chat_events.get(record.reply_parent_message_id or "")
        event = payloads.chat_message(
            broadcaster=self.state.user(record.channel_id),
            chatter=self.state.user(record.sender_id),
            text=record.text,
            message_id=record.message_id,
            reply_to=parent,
        )
        self._spawn(self._emit_quietly("channel.chat.message", event))

    def _echo_whisper(self, record: WhisperRecord) -> None:
        event = payloads.whisper(
            from_user=self.state.user(record.from_user_id),
            to_user=self.state.user(record.to_user_id),
            text=record.text,
        )
        self._spawn(self._emit_quietly("user.whisper.message", event))

    async def _emit_quietly(self, type_: str, event: dict[str, Any]) -> None:
        await self.emit(type_, event)
