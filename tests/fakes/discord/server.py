"""``FakeDiscord``: REST (``/api/v10``) and the gateway WebSocket (``/gateway``) on one loopback
port, plus a signing sender for a bot's HTTP interactions endpoint.

async with FakeDiscord(heartbeat_interval_ms=200) as fake:
    guild = fake.add_guild("Waddle Den")
    alice = fake.add_user(username="alice")
    guild.add_member(alice)
    monkeypatch.setattr(discord.http.Route, "API_BASE_URL", fake.api_url)  # py-cord
    ...
    await fake.wait_for_ready()
    await fake.post_message(guild.text_channels[0], alice, "!ping")
    await fake.wait_for_sent(1)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from tests.support.harness import serving_app

from ..background import BackgroundTasks
from . import payloads, wire
from .gateway import Delivery, Gateway, Session, Span
from .interactions import Ed25519Keys, InteractionResult, InteractionSender
from .model import (
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    Application,
    Callback,
    Channel,
    Command,
    DiscordState,
    Guild,
    Interaction,
    Member,
    Message,
    Reaction,
    Registration,
    User,
)
from .oauth2 import OAuth2
from .ratelimit import RateLimits
from .rest import Logged, RestApi
from .rest_commands import CommandsApi
from .rest_core import CoreApi
from .rest_interactions import InteractionsApi

GuildRef = Guild | str
ChannelRef = Channel | str
Person = User | str


class FakeDiscord:
    def __init__(
        self,
        *,
        token: str | None = None,
        application_id: str | None = None,
        bot_id: str | None = None,
        bot_name: str = "WaddleBot",
        keys: Ed25519Keys | None = None,
        clock: Callable[[], float] = time.time,
        heartbeat_interval_ms: int = 41_250,
        heartbeat_timeout: float | None = None,
        privileged_intents: int = wire.PRIVILEGED_INTENTS,
        gateway_rate_limit: tuple[int, float] = (120, 60.0),
        recommended_shards: int = 1,
        rate_limit: tuple[int, float] = (50, 1.0),
        route_limits: Mapping[str, tuple[int, float]] | None = None,
        global_limit: tuple[int, float] = (50, 1.0),
        interaction_deadline: float = 3.0,
        interaction_token_lifetime: float = 900.0,
        interaction_timeout: float = 3.0,
        echo_messages: bool = True,
    ) -> None:
        """``clock`` (Unix seconds) drives rate-limit windows and ``X-RateLimit-Reset``,
        interaction deadlines and message timestamps. ``heartbeat_interval_ms`` is what HELLO
        advertises; ``heartbeat_timeout`` (seconds) closes a connection that stops
        heartbeating (4009; off by default). ``privileged_intents``: the privileged intents
        "enabled in the developer portal" (others close with 4014). ``rate_limit`` is every
        route's bucket (limit, seconds) unless ``route_limits`` names the route
        (``"POST /channels/{channel_id}/messages"``; see ``ratelimit.REALISTIC_ROUTE_LIMITS``).
        ``interaction_deadline``: the time for the first response (Discord: 3 s);
        ``interaction_timeout``: how long the sender waits for an HTTP endpoint.
        ``echo_messages``: the bot's own (non-ephemeral) messages come back as MESSAGE_CREATE,
        as on Discord."""
        self.keys = keys or Ed25519Keys()
        now = clock()
        # A bot user's id is its application's id (for every application made since 2019).
        application_id = application_id or bot_id or wire.snowflake(now)
        self.bot = User(bot_id or application_id, bot_name.lower(), bot_name, bot=True)
        owner = User(wire.snowflake(now), "app-owner")
        application = Application(application_id, bot_name, self.keys.public_key, owner)
        self.state = DiscordState(clock, self.bot, application, token or _bot_token(self.bot.id))
        self.state.users[self.bot.id] = self.bot
        self.limits = RateLimits(clock, rate_limit, dict(route_limits or {}), global_limit)
        self.rest = RestApi(self.state, self.limits)
        self.core = CoreApi(self.state, self._gateway_info, self._on_message)
        self.commands_api = CommandsApi(self.state)
        self.interactions_api = InteractionsApi(
            self.state,
            self._on_message,
            response_deadline=interaction_deadline,
            token_lifetime=interaction_token_lifetime,
        )
        self.oauth2 = OAuth2(self.state)
        for part in (self.core, self.commands_api, self.interactions_api, self.oauth2):
            part.register(self.rest)
        self.gateway = Gateway(
            self.state,
            heartbeat_interval_ms=heartbeat_interval_ms,
            allowed_privileged=privileged_intents,
            rate_limit=gateway_rate_limit,
            heartbeat_timeout=heartbeat_timeout,
        )
        self.interactions = InteractionSender(
            self.keys,
            application_id=application.id,
            timeout=interaction_timeout,
            clock=clock,
            before_send=self._interaction_sent,
            after_send=self._interaction_answered,
        )
        self.recommended_shards = recommended_shards
        self.echo_messages = echo_messages
        self.base_url = self.api_url = self.gateway_url = self.resume_gateway_url = ""
        self.background = BackgroundTasks("fake Discord")
        self._stack = contextlib.AsyncExitStack()

    # --- lifecycle -----------------------------------------------------------------------------

    def app(self) -> Starlette:
        routes: list[Any] = [*self.rest.starlette_routes(), *self.oauth2.routes()]
        for path in ("/gateway", "/gateway/", "/gateway/resume", "/gateway/resume/"):
            routes.append(WebSocketRoute(path, self.gateway.endpoint))
        return Starlette(routes=routes)

    async def __aenter__(self) -> FakeDiscord:
        self.base_url = await self._stack.enter_async_context(serving_app(self.app()))
        self.api_url = f"{self.base_url}/api/v{wire.API_VERSION}"
        ws_base = "ws" + self.base_url.removeprefix("http")
        self.gateway_url = self.gateway.url = f"{ws_base}/gateway"
        self.resume_gateway_url = self.gateway.resume_url = f"{ws_base}/gateway/resume"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.background.cancel()
        await self.gateway.close_all()
        await self.interactions.aclose()
        await self._stack.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.background.spawn(coro)

    async def settle(self) -> None:
        """Wait for background dispatches (echoes of the bot's messages); raise their errors."""
        await self.background.settle()

    # --- identity --------------------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The bot token REST (``Authorization: Bot <token>``) and IDENTIFY accept."""
        return self.state.token

    @property
    def application_id(self) -> str:
        return self.state.application.id

    @property
    def client_secret(self) -> str:
        """The application's OAuth2 client secret (``/oauth2/token``)."""
        return self.oauth2.client_secret

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/oauth2/authorize"

    def authorize_as(self, user_id: str | None) -> None:
        """The person "signed in to Discord" who approves the next ``/oauth2/authorize``."""
        self.oauth2.signed_in_user = user_id

    @property
    def public_key(self) -> str:
        """The application's Ed25519 public key, hex (the bot's verify key)."""
        return self.keys.public_key

    def _gateway_info(self) -> dict[str, Any]:
        return {
            "url": self.gateway_url,
            "shards": self.recommended_shards,
            "session_start_limit": {
                "total": self.gateway.session_start_total,
                "remaining": self.gateway.session_start_remaining,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    # --- people and places ---------------------------------------------------------------------

    def add_user(
        self,
        user_id: str | None = None,
        username: str = "",
        *,
        global_name: str | None = None,
        bot: bool = False,
    ) -> User:
        user = User(user_id or wire.snowflake(self.state.clock()), username, global_name, bot)
        self.state.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str = "Waddle Den",
        *,
        guild_id: str | None = None,
        owner: User | None = None,
        channels: Sequence[str] = ("general",),
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        bot_member: bool = True,
    ) -> Guild:
        """A guild with an @everyone role (id = guild id), text channels, its owner as a member
        and (``bot_member``) the bot with a managed role of ``bot_permissions``. Added before
        the client identifies, it comes in READY and a GUILD_CREATE; afterwards announce it
        with ``await guild_available(guild)``."""
        now = self.state.clock()
        owner = owner or self.add_user(username="owner")
        self.state.users.setdefault(owner.id, owner)
        guild = Guild(guild_id or wire.snowflake(now), name, owner.id, joined_at=now)
        guild.add_role("@everyone", everyone_permissions, role_id=guild.id, position=0)
        for channel_name in channels:
            guild.add_channel(channel_name)
        guild.add_member(owner)
        if bot_member:
            role = guild.add_role(self.bot.global_name or "bot", bot_permissions, managed=True)
            guild.add_member(self.bot, [role.id])
        self.state.guilds[guild.id] = guild
        return guild

    def guild(self, guild: GuildRef) -> Guild:
        return guild if isinstance(guild, Guild) else self.state.guilds[guild]

    def block_dms(self, user: Person, blocked: bool = True) -> None:
        """The user refuses DMs from the bot: sending there answers 403 / 50007."""
        user_id = user.id if isinstance(user, User) else user
        if blocked:
            self.state.dm_closed.add(user_id)
        else:
            self.state.dm_closed.discard(user_id)

    # --- REST controls -------------------------------------------------------------------------

    def set_route_limit(self, route: str, limit: int, per: float) -> None:
        """``route`` as ``"POST /channels/{channel_id}/messages"``."""
        self.limits.set_limit(route, limit, per)

    def force_429(
        self, route: str, count: int = 1, *, retry_after: float = 0.05, scope: str = "user"
    ) -> None:
        """The next ``count`` requests to ``route`` get 429 (``scope`` ``user`` or ``shared``;
        shared ones do not count as invalid)."""
        self.limits.force(route, count, retry_after, scope)

    def force_global_429(self, count: int = 1, *, retry_after: float = 0.05) -> None:
        """The next ``count`` bot-token requests get a global 429 (``X-RateLimit-Global``)."""
        self.limits.force_global(count, retry_after)

    @property
    def requests(self) -> list[Logged]:
        """Every REST request the fake answered, in order."""
        return self.rest.log

    def requests_to(self, route: str) -> list[Logged]:
        return [r for r in self.rest.log if r.route == route]

    @property
    def invalid_requests(self) -> list[Logged]:
        """401, 403 and 429 (not shared-scope) answers: what Discord counts toward its ban of
        10,000 per 10 minutes."""
        return self.rest.invalid

    def invalid_requests_within(self, seconds: float = 600.0) -> int:
        """Invalid requests in the last ``seconds`` (Discord bans at 10,000 per 10 minutes)."""
        since = self.state.clock() - seconds
        return sum(1 for r in self.rest.invalid if r.at >= since)

    @property
    def rate_limited(self) -> list[Logged]:
        return self.rest.rate_limited

    # --- what the bot sent ---------------------------------------------------------------------

    def sent(
        self, channel: ChannelRef | None = None, *, source: str | None = None
    ) -> list[Message]:
        """Messages the bot created (channel messages, DMs, interaction responses and
        follow-ups), oldest first; ``source``: rest | interaction | followup."""
        channel_id = channel.id if isinstance(channel, Channel) else channel
        return [
            m
            for m in self.state.sent
            if channel_id in (None, m.channel_id) and source in (None, m.source)
        ]

    def dm_channel(self, user: Person) -> Channel | None:
        return self.state.dm_channels.get(user.id if isinstance(user, User) else user)

    def dms(self, user: Person) -> list[Message]:
        """Messages the bot sent to the DM channel with ``user``."""
        channel = self.dm_channel(user)
        return self.sent(channel.id) if channel else []

    def message(self, message_id: str) -> Message:
        return self.state.messages[message_id]

    def commands(self, guild: GuildRef | None = None) -> list[Command]:
        """The application commands registered now (global, or of one guild)."""
        guild_id = guild.id if isinstance(guild, Guild) else guild
        return self.state.commands_in(guild_id)

    @property
    def registrations(self) -> list[Registration]:
        return self.state.registrations

    @property
    def callbacks(self) -> list[Callback]:
        """Every interaction response, accepted or refused (``accepted``, ``status``)."""
        return self.interactions_api.callbacks

    def interaction(self, interaction_id: str) -> Interaction:
        return self.state.interactions[interaction_id]

    def followups(self, interaction: Interaction | str) -> list[Message]:
        record = self.interaction(interaction if isinstance(interaction, str) else interaction.id)
        return [self.state.messages[m] for m in record.followup_ids]

    def original_response(self, interaction: Interaction | str) -> Message | None:
        record = self.interaction(interaction if isinstance(interaction, str) else interaction.id)
        return self.state.messages.get(record.original_message_id or "")

    @property
    def reactions(self) -> list[Reaction]:
        return self.state.reactions

    # --- the gateway ---------------------------------------------------------------------------

    @property
    def sessions(self) -> list[Session]:
        return list(self.gateway.sessions.values())

    @property
    def identifies(self) -> list[dict[str, Any]]:
        """Every IDENTIFY's ``d`` (token, intents, properties, shard, ...)."""
        return self.gateway.identifies

    @property
    def spans(self) -> list[Span]:
        """Every connection that served a shard, from IDENTIFY or RESUME until it ended."""
        return self.gateway.spans

    def session(self, session_id: str | None = None) -> Session:
        """One session, or the newest."""
        if session_id is not None:
            return self.gateway.sessions[session_id]
        return list(self.gateway.sessions.values())[-1]

    async def dispatch(
        self, event: str, data: dict[str, Any], *, session_id: str | None = None
    ) -> list[Delivery]:
        """Send a dispatch (``t`` = ``event``) to every session that should get it."""
        return await self.gateway.dispatch(event, data, session_id)

    async def drop_connection(
        self, *, code: int | None = None, session_id: str | None = None
    ) -> None:
        """End the connection without ending the session: abruptly (no close frame; the
        client sees 1006), or with close ``code``. The client should RESUME."""
        await self.gateway.drop(session_id, code)

    async def send_reconnect(self, *, session_id: str | None = None) -> None:
        """Op 7 RECONNECT: the client should close, reconnect and RESUME."""
        await self.gateway.reconnect(session_id)

    async def invalidate_session(
        self, resumable: bool = False, *, session_id: str | None = None
    ) -> None:
        """Op 9 INVALID SESSION; unless ``resumable`` the session ends and the client must
        IDENTIFY anew."""
        await self.gateway.invalidate(resumable, session_id)

    async def request_heartbeat(self, *, session_id: str | None = None) -> None:
        """Op 1 from the server: the client must heartbeat at once."""
        await self.gateway.request_heartbeat(session_id)

    def pause_heartbeat_acks(self, paused: bool = True) -> None:
        self.gateway.acks_paused = paused

    @contextlib.contextmanager
    def gateway_held(self) -> Iterator[None]:
        """New gateway connections wait before HELLO inside the block, so a test can drop a
        connection and dispatch while the client is certainly away."""
        self.gateway.hold()
        try:
            yield
        finally:
            self.gateway.release()

    async def wait_until(
        self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition"
    ) -> Any:
        """Poll ``predicate`` until it is truthy; returns its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if loop.time() > deadline:
                raise TimeoutError(f"fake Discord: timed out waiting for {what}")
            await asyncio.sleep(0.005)

    async def wait_for_ready(self, timeout: float = 5.0) -> Session:
        """The newest session that got READY (and its GUILD_CREATEs) and is connected."""

        def ready() -> Session | None:
            found = [s for s in self.gateway.sessions.values() if s.ready and s.connected]
            return found[-1] if found else None

        session: Session = await self.wait_until(ready, timeout, "a READY session")
        return session

    async def wait_for_resume(
        self, count: int = 1, *, session_id: str | None = None, timeout: float = 5.0
    ) -> Session:
        """A session that has resumed ``count`` times and is connected again."""

        def resumed() -> Session | None:
            for session in self.gateway.sessions.values():
                if session_id in (None, session.id) and len(session.resumes) >= count:
                    if session.connected and session.dispatches("RESUMED")[count - 1 :]:
                        return session
            return None

        session: Session = await self.wait_until(resumed, timeout, f"{count} RESUME(s)")
        return session

    async def wait_for_sent(
        self, count: int = 1, channel: ChannelRef | None = None, timeout: float = 5.0
    ) -> list[Message]:
        """The bot's messages (in ``channel``) once there are at least ``count``."""
        messages: list[Message] = await self.wait_until(
            lambda: (found := self.sent(channel)) and len(found) >= count and found,
            timeout,
            f"{count} message(s) from the bot",
        )
        return messages

    # --- things that happen on Discord ---------------------------------------------------------

    def _member_payload(
        self, guild_id: str | None, user: Person, *, with_user: bool = False
    ) -> dict[str, Any] | None:
        """The member as the guild model has it (roles, nick, joined_at, premium_since)."""
        guild = self.state.guilds.get(guild_id or "")
        member = guild.members.get(_uid(user)) if guild else None
        return member.payload(with_user=with_user) if member else None

    async def post_message(
        self,
        channel: ChannelRef,
        author: Person,
        content: str,
        *,
        guild: GuildRef | None = None,
        roles: Iterable[str] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Someone posts a message: MESSAGE_CREATE (roles from the guild's member unless
        given; ``fields`` as for ``payloads.message_create``). Returns the dispatched body;
        the message becomes one the bot may reply to."""
        channel_id, guild_id = _channel_guild(self.state, channel, guild)
        author_user = self.state.users.get(_uid(author)) or (
            author if isinstance(author, User) else User(author)
        )
        if roles is None:
            fields.setdefault("author_member", self._member_payload(guild_id, author_user))
        body = payloads.message_create(
            channel=channel_id,
            guild=guild_id,
            author=author_user,
            content=content,
            roles=() if roles is None else roles,
            at=self.state.clock(),
            **fields,
        )
        self._remember(body, author_user)
        await self.gateway.dispatch("MESSAGE_CREATE", body)
        return body

    def _remember(self, body: dict[str, Any], author: User) -> None:
        message = Message(
            id=body["id"],
            channel_id=body["channel_id"],
            author=author,
            content=body.get("content", ""),
            guild_id=body.get("guild_id"),
            type=body.get("type", 0),
            message_reference=body.get("message_reference"),
            mentions=[str(m["id"]) for m in body.get("mentions", [])],
            created_at=self.state.clock(),
        )
        self.state.messages[message.id] = message
        channel = self.state.channel(message.channel_id)
        if channel is not None:
            channel.last_message_id = message.id

    async def post_dm(self, author: Person, content: str, **fields: Any) -> dict[str, Any]:
        """Someone writes to the bot in DMs (the DM channel is opened if needed)."""
        user = self.state.users.get(_uid(author)) or (
            author if isinstance(author, User) else self.add_user(author)
        )
        channel = self.state.dm_channels.get(user.id)
        if channel is None:
            channel = Channel(wire.snowflake(self.state.clock()), None, wire.DM, recipients=[user])
            self.state.dm_channels[user.id] = channel
        return await self.post_message(channel, user, content, **fields)

    def _new_interaction(self, body: dict[str, Any], via: str) -> Interaction:
        interaction = Interaction(
            id=body["id"],
            token=body["token"],
            type=body["type"],
            application_id=str(body.get("application_id")),
            payload=body,
            created_at=self.state.clock(),
            via=via,
            channel_id=body.get("channel_id"),
            guild_id=body.get("guild_id"),
        )
        self.state.interactions[interaction.id] = interaction
        return interaction

    def build_interaction(
        self,
        name: str,
        *,
        channel: ChannelRef | None = None,
        user: Person | None = None,
        guild: GuildRef | None = None,
        options: Mapping[str, Any] | Sequence[dict[str, Any]] = (),
        roles: Iterable[str] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """An application command interaction for this application, with the member's roles
        and permissions (and the bot's ``app_permissions``) from the guild model; the command id
        is the registered command's when there is one."""
        channel_id: str | None = None
        guild_id: str | None = None
        if channel is not None:
            channel_id, guild_id = _channel_guild(self.state, channel, guild)
        elif guild is not None:
            guild_id = self.guild(guild).id
            channel_id = self.guild(guild).text_channels[0].id
        person = (
            self.state.users.get(_uid(user), user if isinstance(user, User) else User(_uid(user)))
            if user is not None
            else None
        )
        model = self.state.guilds.get(guild_id or "")
        if model is not None and person is not None and channel_id is not None:
            fields.setdefault("permissions", model.permissions_in(person.id, channel_id))
            fields.setdefault("app_permissions", model.permissions_in(self.bot.id, channel_id))
        command = next(
            (
                c
                for c in self.state.commands.values()
                if c.name == name and c.guild_id in (None, guild_id)
            ),
            None,
        )
        if command is not None:
            fields.setdefault("command_id", command.id)
        body = payloads.interaction(
            name,
            options=options,
            application_id=self.application_id,
            guild=guild_id,
            channel=(self.state.channel(channel_id) or channel_id) if channel_id else None,
            user=person,
            roles=() if roles is None else roles,
            **fields,
        )
        known = self._member_payload(guild_id, person) if person and roles is None else None
        if known is not None and "member" in body:
            body["member"].update(known)  # keeps its user and computed permissions
        return body

    async def slash_command(self, name: str, **fields: Any) -> Interaction:
        """Someone uses a slash command: INTERACTION_CREATE over the gateway (``fields`` as for
        ``build_interaction``). Returns the interaction record (responses land on it)."""
        body = self.build_interaction(name, **fields)
        interaction = self._new_interaction(body, "gateway")
        await self.gateway.dispatch("INTERACTION_CREATE", body)
        return interaction

    async def send_interaction(
        self, url: str, name: str, **fields: Any
    ) -> tuple[Interaction, InteractionResult]:
        """Someone uses a slash command and Discord POSTs it, signed, to the bot's HTTP
        interactions endpoint ``url``; an inline response is recorded as the interaction's."""
        body = self.build_interaction(name, **fields)
        result = await self.interactions.send(url, body)
        return self.interaction(body["id"]), result

    def _interaction_sent(self, body: dict[str, Any]) -> None:
        if "id" in body and "token" in body and body["id"] not in self.state.interactions:
            self._new_interaction(body, "http")

    def _interaction_answered(self, result: InteractionResult) -> None:
        if result.payload is None or result.status != 200:
            return
        interaction = self.state.interactions.get(str(result.payload.get("id")))
        answer = result.json
        if interaction is not None and isinstance(answer, dict) and "type" in answer:
            self.interactions_api.respond(interaction, answer, "http")

    async def member_join(self, guild: GuildRef, user: Person, roles: Iterable[str] = ()) -> Member:
        model = self.guild(guild)
        person = self.state.users.get(_uid(user)) or self.add_user(_uid(user))
        member = model.add_member(person, roles)
        member.joined_at = self.state.clock()
        await self.gateway.dispatch(
            "GUILD_MEMBER_ADD",
            payloads.guild_member_add(model, person, member.roles, joined_at=member.joined_at),
        )
        return member

    async def member_leave(self, guild: GuildRef, user: Person) -> None:
        model = self.guild(guild)
        person = self.state.users.get(_uid(user)) or User(_uid(user))
        model.members.pop(person.id, None)
        await self.gateway.dispatch(
            "GUILD_MEMBER_REMOVE", payloads.guild_member_remove(model, person)
        )

    async def member_update(
        self,
        guild: GuildRef,
        user: Person,
        *,
        roles: Iterable[str] | None = None,
        nick: str | None = None,
        premium_since: float | None = None,
    ) -> Member:
        model = self.guild(guild)
        member = model.members[_uid(user)]
        if roles is not None:
            member.roles = list(roles)
        if nick is not None:
            member.nick = nick
        if premium_since is not None:
            member.premium_since = premium_since
        await self.gateway.dispatch(
            "GUILD_MEMBER_UPDATE",
            payloads.guild_member_update(
                model,
                member.user,
                member.roles,
                nick=member.nick,
                joined_at=member.joined_at,
                premium_since=member.premium_since,
            ),
        )
        return member

    async def boost(
        self, guild: GuildRef, user: Person, channel: ChannelRef | None = None
    ) -> dict[str, Any]:
        """A member boosts the guild: GUILD_MEMBER_UPDATE with ``premium_since``, then the
        system message (type 8, USER_PREMIUM_GUILD_SUBSCRIPTION) in ``channel`` (default: the
        first text channel). Returns the message body."""
        model = self.guild(guild)
        model.premium_subscription_count += 1
        await self.member_update(model, user, premium_since=self.state.clock())
        target = channel or model.text_channels[0]
        return await self.post_message(target, user, "", guild=model, type_=8)

    async def react(
        self,
        user: Person,
        message: dict[str, Any] | Message,
        emoji: str = "\N{THUMBS UP SIGN}",
        *,
        removed: bool = False,
    ) -> dict[str, Any]:
        """Someone adds (or removes) a reaction to a message: MESSAGE_REACTION_ADD/REMOVE."""
        body = message.payload() if isinstance(message, Message) else message
        guild_id = body.get("guild_id") or (
            message.guild_id if isinstance(message, Message) else None
        )
        author_id = str((body.get("author") or {}).get("id", "")) or None
        if removed:
            data = payloads.message_reaction_remove(
                who=user,
                channel=body["channel_id"],
                message_id=body["id"],
                emoji=emoji,
                guild=guild_id,
            )
            await self.gateway.dispatch("MESSAGE_REACTION_REMOVE", data)
            return data
        data = payloads.message_reaction_add(
            who=self.state.users.get(_uid(user)) or user,
            channel=body["channel_id"],
            message_id=body["id"],
            emoji=emoji,
            guild=guild_id,
            message_author_id=author_id,
            reactor_member=self._member_payload(guild_id, user, with_user=True),
        )
        await self.gateway.dispatch("MESSAGE_REACTION_ADD", data)
        return data

    async def guild_available(self, guild: GuildRef) -> None:
        """GUILD_CREATE for a guild the bot joined after READY (per session's member view)."""
        model = self.guild(guild)
        for session in self.gateway.live_sessions():
            if session.ready and self.gateway.wants(session, "GUILD_CREATE", {"id": model.id}):
                await self.gateway.dispatch(
                    "GUILD_CREATE", self.gateway._guild_create(model, session), session.id
                )

    # --- echoes of the bot's messages ----------------------------------------------------------

    def _on_message(self, event: str, message: Message) -> None:
        if not self.echo_messages or message.ephemeral:
            return
        if event == "MESSAGE_DELETE":
            body: dict[str, Any] = {"id": message.id, "channel_id": message.channel_id}
        else:
            body = message.payload(self.state.user)
            member = self._member_payload(message.guild_id, self.bot)
            if member is not None:
                body["member"] = member
        if message.guild_id:
            body["guild_id"] = message.guild_id
        self._spawn(self.gateway.dispatch(event, body))


def _uid(who: Any) -> str:
    return str(who.id if isinstance(who, User) else who)


def _bot_token(bot_id: str) -> str:
    """Shaped like a bot token: base64 of the bot id, a timestamp part and an HMAC part."""
    head = base64.urlsafe_b64encode(bot_id.encode()).decode().rstrip("=")
    return f"{head}.{wire.new_token(4)}.{wire.new_token(27)}"


def _channel_guild(
    state: DiscordState, channel: ChannelRef, guild: GuildRef | None
) -> tuple[str, str | None]:
    channel_id = channel.id if isinstance(channel, Channel) else channel
    if guild is not None:
        return channel_id, guild.id if isinstance(guild, Guild) else guild
    found = channel if isinstance(channel, Channel) else state.channel(channel_id)
    return channel_id, found.guild_id if found is not None else None
