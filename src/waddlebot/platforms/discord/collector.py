"""The Discord collector of one process: py-cord keeps the gateway (identify, heartbeats,
resume after a drop, sharding), each dispatch WaddleBot cares about is translated from its
raw payload into a canonical event on the bus, and the replies go out through
:class:`~waddlebot.platforms.discord.outbound.DiscordOutbound`.

A slash command is answered inline when the router's answer comes within
``discord_inline_wait_seconds`` (Discord wants a first response within 3 seconds), deferred
otherwise, its answer then following (:mod:`~waddlebot.platforms.discord.answers`).

The processes serving Discord share its gateway shards (:mod:`~waddlebot.infra.assignment`):
one gateway session per shard this process holds, one py-cord client each, and one more
client for REST. A fixed ``discord_shard_id`` opts out: that client keeps that shard.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import discord
import orjson
import structlog

from waddlebot.core.events import Event
from waddlebot.core.manifest import CommandSpec
from waddlebot.core.settings import CoreSettings
from waddlebot.infra import keys, metrics
from waddlebot.infra.assignment import Assignment, fixed
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.completion import CompletionHub
from waddlebot.infra.connections import Changed, Link, Watch
from waddlebot.infra.leadership import Leadership
from waddlebot.infra.ports import Ports
from waddlebot.infra.single_flight import SingleFlight
from waddlebot.infra.tasks import stop_task
from waddlebot.platforms.answering import answer_in_time, publish_event
from waddlebot.platforms.discord.answers import DEFER, inline_response, interaction_states
from waddlebot.platforms.discord.commands import CommandSet, application_commands
from waddlebot.platforms.discord.outbound import DiscordOutbound
from waddlebot.platforms.discord.settings import DiscordSettings
from waddlebot.platforms.discord.shard_count import agreed_shard_count
from waddlebot.platforms.discord.signature import InteractionVerifier
from waddlebot.platforms.discord.translate import (
    GuildFacts,
    MalformedDispatch,
    is_snowflake,
    member_change,
    message_create,
    reaction_add,
    slash_command,
)

log = structlog.get_logger("waddlebot.discord")

PLATFORM = "discord"
Dispatch = Callable[[str, Mapping[str, Any]], Awaitable[None]]
IDENTIFY, RESUME = 2, 6  # gateway opcodes the client sends
RoleLevels = Callable[[str], Awaitable[Mapping[str, int]]]
# how long a server's role levels are kept in the process (every message needs them): a
# change is heard at once through the change feed; this bounds one whose notice was lost
ROLE_LEVELS_SECONDS = 10.0
"""The levels a server's roles give (``discord:<guild>`` -> role id -> level)."""


def intents_for(settings: DiscordSettings) -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True  # commands are typed text (a privileged intent)
    intents.guild_reactions = True
    intents.members = settings.discord_members_intent  # joins and leaves (privileged)
    return intents


class _Gateway(discord.Client):
    """py-cord's client, handing WaddleBot the raw dispatches, and watching its session's
    state from the payloads going each way (IDENTIFY, RESUME, READY, RESUMED)."""

    def __init__(self, on_dispatch: Dispatch, changed: Changed, **options: Any) -> None:
        super().__init__(enable_debug_events=True, **options)
        self._on_dispatch = on_dispatch
        shard = options.get("shard_id")
        self.watch = Watch("gateway" if shard is None else f"shard {shard}", changed)

    async def on_socket_raw_receive(self, message: Any) -> None:
        # py-cord hands over the decompressed JSON text (its parsed objects are not the
        # payloads Discord documents, so WaddleBot reads the text itself)
        if isinstance(message, (str, bytes)):
            message = orjson.loads(message)
        if isinstance(message, Mapping) and message.get("op") == 0:
            data = message.get("d")
            kind = str(message.get("t"))
            self.watch.heard()
            if kind in ("READY", "RESUMED"):
                session = data.get("session_id") if isinstance(data, Mapping) else None
                self.watch.enter("ready", str(session) if session else None)
            if isinstance(data, Mapping):
                await self._on_dispatch(kind, data)

    async def on_socket_raw_send(self, payload: Any) -> None:
        if not isinstance(payload, (str, bytes)) or len(payload) > 4096:
            return  # IDENTIFY and RESUME are small; presence updates need no look
        op = orjson.loads(payload).get("op")
        if op == IDENTIFY:
            self.watch.enter("connecting")
        elif op == RESUME:
            self.watch.enter("resuming")

    async def on_disconnect(self) -> None:
        self.watch.enter("disconnected")

    def link(self) -> Link:
        latency = self.latency
        return self.watch.link(
            latency_ms=round(latency * 1000, 1) if math.isfinite(latency) else None,
            covers=[f"{PLATFORM}:{guild.id}" for guild in self.guilds],
        )


async def _say_goodbye(client: discord.Client, keeper: asyncio.Task[None] | None) -> None:
    """End a gateway session for good: close 1000, which Discord takes as the session's end.

    py-cord's own ``close`` closes its HTTP session first, which cuts the gateway socket
    under its running connect loop (1006): the loop then tries to RESUME over the closed
    session and fails with an error. So the loop (``keeper``) is stopped first, then the
    socket closed cleanly, then the client."""
    with contextlib.suppress(Exception):  # whatever ended the loop was logged by it
        await stop_task(keeper)
    ws = client.ws
    if ws is not None and ws.open:
        with contextlib.suppress(Exception):  # the connection is gone already
            await ws.close(code=1000)
    with contextlib.suppress(Exception):
        await client.close()


class DiscordCollector:
    def __init__(
        self,
        settings: CoreSettings,
        *,
        ports: Ports,
        consumer: str,
        completions: CompletionHub | None = None,
        role_levels: RoleLevels | None = None,
        feed: ChangeFeed | None = None,
    ) -> None:
        own = self._own = settings.section(DiscordSettings)
        self._role_levels = role_levels
        self.changed = Changed()  # a gateway session's state changed: report it at once
        self._kept_levels: dict[str, tuple[float, Mapping[str, int]]] = {}  # server -> until
        self._reading_levels: SingleFlight[str, Mapping[str, int]] = SingleFlight()
        if feed is not None:
            feed.watch(keys.ROLE_LEVEL_CHANGES, self._forget_role_levels)
        self._completions = completions
        self.inline_wait = own.discord_inline_wait_seconds
        self.states = interaction_states(ports.cache)
        self._ports = ports
        self.verifier = (
            InteractionVerifier(own.discord_public_key) if own.discord_public_key else None
        )
        if own.discord_api_url:  # a proxy, or the fake Discord of the tests
            discord.http.Route.API_BASE_URL = own.discord_api_url.rstrip("/")
        # logs in for REST (replies, slash commands); with a fixed shard it also keeps that
        # shard's gateway session, else the sessions are the shards this replica holds
        self.client = self._gateway(own.discord_shard_id, own.discord_shard_count)
        self._shards: dict[int, tuple[_Gateway, asyncio.Task[None]]] = {}
        self._assignment: Assignment | None = None
        self._core = settings
        self.outbound = DiscordOutbound(
            ports.bus,
            lambda: self.client.http,
            self.states,
            consumer=consumer,
            settle_wait=own.discord_inline_wait_seconds + 1.0,
        )
        self._task: asyncio.Task[None] | None = None
        # one process sends (py-cord keeps Discord's rate limits per process); each keeps
        # the gateway sessions of its own shards
        self._consumer = consumer
        self._leadership = Leadership(
            ports.lease,
            "discord",
            consumer,
            on_gain=self.outbound.start,
            on_loss=self.outbound.stop,
        )

    @property
    def leading(self) -> bool:
        return self._leadership.leading

    async def try_lead(self) -> bool:
        return await self._leadership.try_lead()

    def _gateway(self, shard_id: int | None, shard_count: int | None) -> _Gateway:
        return _Gateway(
            self._on_dispatch,
            self.changed,
            intents=intents_for(self._own),
            shard_id=shard_id,
            shard_count=shard_count,
            guild_ready_timeout=self._own.discord_guild_ready_timeout,
            cache_default_sounds=False,  # soundboard sounds: nothing WaddleBot uses
        )

    @property
    def shared(self) -> bool:
        """True when the replicas share the shards (no fixed ``discord_shard_id``)."""
        return self._own.discord_shard_id is None

    def is_ready(self) -> bool:
        """Every gateway session this process keeps got its guilds (and it keeps one)."""
        if not self.shared:
            return self.client.is_ready()
        return bool(self._shards) and all(c.is_ready() for c, _ in self._shards.values())

    @property
    def member(self) -> str:
        """This replica's name among those sharing the shards."""
        return self._consumer

    @property
    def shards(self) -> list[int]:
        """The shards whose gateway sessions this process keeps."""
        if not self.shared:
            return [self._own.discord_shard_id or 0]
        return sorted(self._shards)

    async def connections(self) -> list[Link]:
        """The gateway sessions this process keeps (not the REST-only client's)."""
        if not self.shared:
            return [self.client.link()]
        return [client.link() for _, (client, _) in sorted(self._shards.items())]

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="discord-gateway")

    async def _run(self) -> None:
        # logged in before leading: the sender needs py-cord's HTTP session
        await self.client.login(self._token)
        await self._leadership.start()
        if not self.shared:
            await self.client.connect(reconnect=True)
            return
        count = self._own.discord_shard_count
        if count is None:
            count = await agreed_shard_count(self._ports.cache, self.client.http.get_bot_gateway)
        log.info("discord shards shared among the replicas", shard_count=count)
        self._assignment = Assignment(
            self._ports.lease,
            PLATFORM,
            self._consumer,
            items=fixed([str(n) for n in range(count)]),
            on_take=lambda item: self._open_shard(int(item), count),
            on_drop=lambda item: self._close_shard(int(item)),
            ttl=self._core.assignment_lease_ttl_seconds,
            interval=self._core.assignment_heartbeat_seconds,
        )
        await self._assignment.start()

    @property
    def _token(self) -> str:
        return self._own.discord_token.get_secret_value()

    async def _open_shard(self, shard: int, count: int) -> None:
        client = self._gateway(shard, count)

        async def keep() -> None:
            try:
                await client.login(self._token)
                await client.connect(reconnect=True)
            except Exception:  # py-cord gave up (a refused token, a closed HTTP session)
                log.exception("discord shard session ended", shard=shard)

        task = asyncio.create_task(keep(), name=f"discord-shard-{shard}")
        self._shards[shard] = (client, task)
        self.changed()
        log.info("discord shard session starting", shard=shard, shard_count=count)

    async def _close_shard(self, shard: int) -> None:
        client, task = self._shards.pop(shard)
        self.changed()
        await _say_goodbye(client, task)
        log.info("discord shard session closed", shard=shard)

    async def stop(self) -> None:
        if self._assignment is not None:
            await self._assignment.stop()  # closes the sessions, then hands the shards over
        await self._leadership.stop()
        await _say_goodbye(self.client, self._task)

    @property
    def _application_id(self) -> str:
        return self._own.discord_application_id or self.bot_user_id

    @property
    def bot_user_id(self) -> str:
        return str(self.client.user.id) if self.client.user else ""

    async def sync_commands(
        self, specs: Iterable[CommandSpec], *, guild_id: str | None = None
    ) -> CommandSet:
        """Register the slash commands made from ``specs`` (a bulk overwrite: commands no
        module has any more disappear), for one guild (at once) or globally (Discord takes
        up to an hour to show those everywhere)."""
        made = application_commands(specs)
        http = self.client.http
        if self.client.user is None:  # the CLI: not logged in, REST only
            await http.static_login(self._own.discord_token.get_secret_value())
        application_id = self._application_id
        if not application_id:
            raise ValueError("set WADDLEBOT_DISCORD_APPLICATION_ID to register slash commands")
        if guild_id:
            await http.bulk_upsert_guild_commands(application_id, guild_id, made.commands)  # type: ignore[arg-type]
        else:
            await http.bulk_upsert_global_commands(application_id, made.commands)
        for left_out in made.left_out:
            log.warning("slash command left out", command=left_out)
        return made

    # ----- in ------------------------------------------------------------------------------

    async def _on_dispatch(self, kind: str, data: Mapping[str, Any]) -> None:
        try:
            event = await self._translate(kind, data)
        except MalformedDispatch as exc:
            log.warning("discord dispatch refused", type=kind, error=str(exc))
            return
        if event is not None:
            await publish_event(self._ports.bus, event)

    async def _translate(self, kind: str, data: Mapping[str, Any]) -> Event | None:
        if kind == "MESSAGE_CREATE":
            return message_create(data, await self._facts(data), bot_user_id=self.bot_user_id)
        if kind == "INTERACTION_CREATE":
            await self._answer_over_gateway(data)
            return None
        if kind in ("GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE"):
            return member_change(data, joined=kind == "GUILD_MEMBER_ADD")
        if kind == "MESSAGE_REACTION_ADD":
            if str(data.get("user_id")) == self.bot_user_id:
                return None
            return reaction_add(data, await self._facts(data))
        return None

    async def _facts(self, data: Mapping[str, Any]) -> GuildFacts | None:
        """What the payload does not say, from py-cord's guild cache."""
        guild_id = data.get("guild_id")
        # an id that is no snowflake names no guild (translating refuses it, with its name)
        guild = self._guild(int(guild_id)) if is_snowflake(guild_id) else None
        if guild is None:
            return None
        return GuildFacts(
            owner_id=str(guild.owner_id),
            role_permissions={str(r.id): r.permissions.value for r in guild.roles},
            thread_parents={str(t.id): str(t.parent_id) for t in guild.threads},
            role_levels=await self._levels_of(f"{PLATFORM}:{guild_id}"),
        )

    def _guild(self, guild_id: int) -> discord.Guild | None:
        for client in (self.client, *(c for c, _ in self._shards.values())):
            guild = client.get_guild(guild_id)
            if guild is not None:
                return guild
        return None

    async def _levels_of(self, server: str) -> Mapping[str, int]:
        if self._role_levels is None:
            return {}
        now = time.monotonic()
        kept = self._kept_levels.get(server)
        if kept is not None and kept[0] > now:
            return kept[1]
        role_levels = self._role_levels
        levels = await self._reading_levels.run(server, lambda: role_levels(server))
        self._kept_levels[server] = (now + ROLE_LEVELS_SECONDS, levels)
        return levels

    async def _forget_role_levels(self, _key: str) -> None:
        self._kept_levels.clear()  # changes are rare: all servers are read again
        self._reading_levels.forget()

    # ----- slash commands ------------------------------------------------------------------

    async def answer_interaction(self, data: Mapping[str, Any]) -> dict[str, Any] | None:
        """Put a slash command on the bus and make its first response: the answer itself
        when the router gives it in time as one message (ephemeral when private), else a
        deferral, the answer then following. None when it is no command."""
        event = slash_command(data, await self._facts(data))
        if event is None:
            return None
        interaction_id = str(data.get("id"))
        application_id = str(data.get("application_id") or self._application_id)
        token = str(data.get("token"))
        response = await answer_in_time(
            self.states,
            interaction_id,
            {"application_id": application_id, "token": token},
            event,
            bus=self._ports.bus,
            completions=self._completions,
            wait=self.inline_wait,
            inline=lambda replies: inline_response(replies, interaction_id),
        )
        return response or DEFER

    async def _answer_over_gateway(self, data: Mapping[str, Any]) -> None:
        """Over the gateway the first response is a REST call (over HTTP it is the
        endpoint's answer)."""
        response = await self.answer_interaction(data)
        if response is None:
            return
        try:
            await self.client.http.create_interaction_response(
                str(data.get("id")), str(data.get("token")), **response
            )
        except discord.HTTPException as exc:
            log.error(
                "discord interaction not answered",
                interaction_id=data.get("id"),
                status=exc.status,
                error=exc.text,
            )
            metrics.DELIVERED.labels(PLATFORM, "refused").inc()
