"""``FakeSlack``: the Web API (``/api/<method>``), the OAuth v2 authorize page, slash command
``response_url``s and Socket Mode WebSockets on one loopback port, plus the senders that play
Slack's part towards an app (signed Events API and slash command requests, Socket Mode
envelopes) and the controls and recorders tests use.

async with FakeSlack() as fake:
    team = fake.add_team("Acme")
    alice = fake.add_user(team, "alice")
    general = fake.add_channel(team, "general", members=[alice])
    status, body = await fake.send_event(url, team, fake.message(team, general, alice, "!ping"))
    await fake.wait_for_posted(1, general)
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import string
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, Literal
from urllib.parse import urlencode

from starlette.applications import Starlette

from tests.support.harness import serving_app

from ..background import BackgroundTasks
from . import payloads, wire
from .commands import Commands
from .events import SLACK_RETRY_DELAYS, Envelopes, HttpEvents, UrlVerification
from .http_sender import Delivery, SignedSender, Tamper
from .methods_chat import ChatApi
from .methods_lookup import LookupApi
from .model import (
    App,
    Call,
    Channel,
    PostedMessage,
    SlackState,
    SlashCommand,
    Team,
    Token,
    User,
)
from .oauth import OAuth
from .openid import OpenId
from .ratelimit import PerKeyBucket
from .socket_mode import Ack, SocketMode
from .socket_mode import Envelope as SocketEnvelope
from .web_api import WebApi

TeamRef = Team | str
UserRef = User | str
ChannelRef = Channel | str
CommandRef = SlashCommand | str


class FakeSlack:
    def __init__(
        self,
        *,
        app_name: str = "WaddleBot",
        clock: Callable[[], float] = time.time,
        redirect_uris: Iterable[str] = (),
        event_timeout: float = 3.0,
        event_retry_delays: Sequence[float] = SLACK_RETRY_DELAYS,
        socket_ack_timeout: float = 3.0,
        socket_max_retries: int = 3,
        limit_post_message: bool = False,
        echo_bot_messages: bool = True,
    ) -> None:
        """``clock`` (Unix seconds) stamps messages, events and signatures and drives
        ``response_url`` and OAuth code expiry and the chat.postMessage limit.
        ``event_timeout``: how long an app has to answer an HTTP request (Slack: 3 s);
        ``event_retry_delays``: the waits before ``deliver_event``'s retries (Slack: at once,
        1 min, 5 min). ``socket_ack_timeout``/``socket_max_retries``: when and how often an
        unacked ``events_api`` envelope is delivered again. ``limit_post_message`` turns on
        the realistic per-channel chat.postMessage limit (``limit_post_message()`` tunes it).
        ``echo_bot_messages``: what the bot posts in a conversation comes back to the app as a
        message event (to ``request_url`` if set, else over Socket Mode), as on Slack."""
        app_id = wire.slack_id("A")
        app = App(
            id=app_id,
            name=app_name,
            client_id=wire.client_id(),
            client_secret=secrets.token_hex(16),
            signing_secret=secrets.token_hex(16),
            verification_token="".join(
                secrets.choice(string.ascii_letters + string.digits) for _ in range(24)
            ),
            app_token=wire.app_token(app_id),
            redirect_uris=tuple(redirect_uris),
        )
        self.state = SlackState(clock, app)
        self.api = WebApi(self.state)
        self.chat = ChatApi(self.state, self._echo)
        self.lookup = LookupApi(self.state)
        self.oauth = OAuth(self.state)
        self.commands = Commands(self.state, self._echo)
        self.socket = SocketMode(
            self.state,
            ack_timeout=socket_ack_timeout,
            max_retries=socket_max_retries,
            on_ack=self._acked,
        )
        self.openid = OpenId(self.state)
        for part in (self.chat, self.lookup, self.oauth, self.openid, self.socket):
            part.register(self.api)
        self.sender = SignedSender(lambda: self.state.app.signing_secret, clock, event_timeout)
        self.envelopes = Envelopes(self.state)
        self.http_events = HttpEvents(self.state, self.envelopes, self.sender, event_retry_delays)
        if limit_post_message:
            self.limit_post_message()
        self.echo_bot_messages = echo_bot_messages
        self.request_url: str | None = None  # the app's Events API Request URL, for echoes
        self.base_url = self.api_url = ""
        self.background = BackgroundTasks("fake Slack")
        self._command_envelopes: dict[str, SlashCommand] = {}
        self._stack = contextlib.AsyncExitStack()

    # --- lifecycle -----------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                *self.api.routes(),
                *self.oauth.routes(),
                *self.openid.routes(),
                *self.commands.routes(),
                *self.socket.routes(),
            ]
        )

    async def __aenter__(self) -> FakeSlack:
        self.base_url = await self._stack.enter_async_context(serving_app(self.app()))
        self.api_url = f"{self.base_url}/api/"
        self.commands.base_url = self.base_url
        self.socket.url = "ws" + self.base_url.removeprefix("http") + "/link/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.background.cancel()
        await self.socket.close_all()
        await self.sender.aclose()
        await self._stack.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.background.spawn(coro)

    async def settle(self) -> None:
        """Wait for background deliveries (echoes of the bot's messages); raise their errors."""
        await self.background.settle()

    # --- the app's credentials -----------------------------------------------------------------

    @property
    def app_id(self) -> str:
        return self.state.app.id

    @property
    def client_id(self) -> str:
        return self.state.app.client_id

    @property
    def client_secret(self) -> str:
        return self.state.app.client_secret

    @property
    def signing_secret(self) -> str:
        return self.state.app.signing_secret

    @property
    def verification_token(self) -> str:
        return self.state.app.verification_token

    @property
    def app_token(self) -> str:
        """The app-level ``xapp-`` token (Socket Mode)."""
        return self.state.app.app_token

    # --- workspaces, people, conversations -----------------------------------------------------

    def add_team(self, name: str = "Acme", *, domain: str | None = None) -> Team:
        """A workspace with the app installed: its bot user and ``xoxb-`` token."""
        team_id = wire.slack_id("T")
        bot = User(
            wire.slack_id("U"),
            team_id,
            self.state.app.name.lower(),
            real_name=self.state.app.name,
            display_name="",
            is_bot=True,
            bot_id=wire.slack_id("B"),
            app_id=self.state.app.id,
            updated=self.state.now(),
        )
        assert bot.bot_id is not None
        slug = domain or re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "team"
        team = Team(team_id, name, slug, bot, bot.bot_id, wire.bot_token())
        self.state.teams[team.id] = team
        self.state.users[bot.id] = bot
        self.state.tokens[team.bot_token] = Token(
            team.bot_token, "bot", team.id, bot.id, team.scopes
        )
        return team

    def add_user(
        self,
        team: TeamRef,
        name: str,
        *,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        is_bot: bool = False,
        display_name: str | None = None,
        real_name: str | None = None,
    ) -> User:
        """A member of ``team``. As on Slack, the primary owner is an owner and owners are
        admins. A bot user gets a ``bot_id`` and an app of its own."""
        team = self.state.team(team)
        is_owner = is_owner or is_primary_owner
        user = User(
            wire.slack_id("U"),
            team.id,
            name,
            real_name=name.title() if real_name is None else real_name,
            display_name=name if display_name is None else display_name,
            is_admin=is_admin or is_owner,
            is_owner=is_owner,
            is_primary_owner=is_primary_owner,
            is_bot=is_bot,
            bot_id=wire.slack_id("B") if is_bot else None,
            app_id=wire.slack_id("A") if is_bot else None,
            updated=self.state.now(),
        )
        self.state.users[user.id] = user
        return user

    def add_channel(
        self,
        team: TeamRef,
        name: str,
        *,
        members: Iterable[UserRef] = (),
        bot_member: bool = True,
        private: bool = False,
    ) -> Channel:
        team = self.state.team(team)
        member_ids = [self.state.user(m).id for m in members]
        if bot_member:
            member_ids.append(team.bot_user_id)
        channel = Channel(
            wire.slack_id("C"),
            team.id,
            name,
            "private" if private else "public",
            self.state.now(),
            member_ids[0] if member_ids else team.bot_user_id,
            member_ids,
            is_general=name == "general",
        )
        self.state.channels[channel.id] = channel
        return channel

    def join(self, channel: ChannelRef, user: UserRef) -> None:
        """``user`` joins quietly (``member_joined`` makes the event for it)."""
        channel, user = self.state.channel(channel), self.state.user(user)
        if user.id not in channel.members:
            channel.members.append(user.id)

    def leave(self, channel: ChannelRef, user: UserRef) -> None:
        channel, user = self.state.channel(channel), self.state.user(user)
        if user.id in channel.members:
            channel.members.remove(user.id)

    def archive(self, channel: ChannelRef) -> None:
        self.state.channel(channel).archived = True

    def open_im(self, team: TeamRef, user: UserRef) -> Channel:
        """The bot's IM with ``user`` (what conversations.open returns)."""
        return self.state.open_im(self.state.team(team).id, self.state.user(user).id)[0]

    def revoke_token(self, token: str) -> None:
        """Calls with it now fail with ``token_revoked``."""
        self.state.tokens[token].revoked = True

    # --- events people cause (builders of Events API events) -----------------------------------

    def _in_team(self, team: TeamRef, channel: ChannelRef) -> Channel:
        found = self.state.channel(channel)
        assert found.team_id == self.state.team(team).id, "the channel is another team's"
        return found

    def message(
        self,
        team: TeamRef,
        channel: ChannelRef,
        user: UserRef,
        text: str,
        *,
        thread_ts: str | None = None,
        ts: str | None = None,
    ) -> dict[str, Any]:
        """``user`` says ``text`` (in the thread of ``thread_ts``): the ``message`` event.
        ``channel_type`` follows the conversation (channel, group, im); a bot user's message
        carries ``bot_id``. The message joins the conversation's history."""
        channel = self._in_team(team, channel)
        user = self.state.user(user)
        root, parent_user = None, None
        if thread_ts is not None:
            parent = channel.find_message(thread_ts)
            root = parent.get("thread_ts", thread_ts) if parent else thread_ts
            parent_user = parent.get("user") if parent else None
        event = payloads.message(
            channel,
            user,
            text,
            ts or self.state.next_ts(),
            thread_ts=root,
            parent_user_id=parent_user,
        )
        channel.history.append(event)
        return event

    def bot_message(
        self,
        team: TeamRef,
        channel: ChannelRef,
        text: str,
        *,
        username: str = "ci-bot",
        bot_id: str | None = None,
    ) -> dict[str, Any]:
        """A legacy integration posts: subtype ``bot_message``, ``bot_id`` and no ``user``."""
        channel = self._in_team(team, channel)
        event = payloads.bot_message(
            channel,
            text,
            self.state.next_ts(),
            bot_id=bot_id or wire.slack_id("B"),
            username=username,
        )
        channel.history.append(event)
        return event

    def message_changed(
        self,
        team: TeamRef,
        channel: ChannelRef,
        ts: str,
        text: str,
        *,
        editor: UserRef | None = None,
    ) -> dict[str, Any]:
        """The message ``ts`` is edited to ``text``: subtype ``message_changed``."""
        channel = self._in_team(team, channel)
        original = channel.find_message(ts)
        assert original is not None, f"no message {ts} in {channel.id}"
        who = self.state.user(editor).id if editor is not None else str(original.get("user", ""))
        event = payloads.message_changed(channel, original, text, self.state.next_ts(), who)
        original["text"] = text
        return event

    def message_deleted(self, team: TeamRef, channel: ChannelRef, ts: str) -> dict[str, Any]:
        channel = self._in_team(team, channel)
        original = channel.find_message(ts)
        assert original is not None, f"no message {ts} in {channel.id}"
        channel.history.remove(original)
        return payloads.message_deleted(channel, original, self.state.next_ts())

    def app_mention(
        self,
        team: TeamRef,
        channel: ChannelRef,
        user: UserRef,
        text: str,
        *,
        thread_ts: str | None = None,
        ts: str | None = None,
    ) -> dict[str, Any]:
        """``user`` mentions the bot: ``<@bot>`` is put in front of ``text`` unless there."""
        team = self.state.team(team)
        channel = self._in_team(team, channel)
        mention = f"<@{team.bot_user_id}>"
        if mention not in text:
            text = f"{mention} {text}"
        user = self.state.user(user)
        return payloads.app_mention(
            channel, user, text, ts or self.state.next_ts(), thread_ts=thread_ts
        )

    def member_joined(
        self,
        team: TeamRef,
        channel: ChannelRef,
        user: UserRef,
        *,
        inviter: UserRef | None = None,
    ) -> dict[str, Any]:
        """``user`` joins (added by ``inviter``): ``member_joined_channel``."""
        channel = self._in_team(team, channel)
        self.join(channel, user)
        who = None if inviter is None else self.state.user(inviter)
        return payloads.member_joined(
            channel, self.state.user(user), self.state.next_ts(), inviter=who
        )

    # --- the Events API over HTTP --------------------------------------------------------------

    async def send_event(
        self,
        url: str,
        team: TeamRef,
        event: dict[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        event_id: str | None = None,
        tamper: Tamper | None = None,
    ) -> tuple[int | None, str]:
        """POST ``event`` in an event_callback envelope to ``url``, signed; (status, body) of
        the answer (status None: no answer within ``event_timeout``). With ``retry_num`` (or
        ``event_id``) it is a retry: the earlier envelope (default: the last event's) again,
        with ``X-Slack-Retry-Num``/``-Reason``. ``tamper``: stale, bad_signature, unsigned,
        no_signature or no_timestamp."""
        delivery = await self.http_events.send(
            url,
            self.state.team(team),
            event,
            retry_num=retry_num,
            retry_reason=retry_reason,
            event_id=event_id,
            tamper=tamper,
        )
        return delivery.status, delivery.answer

    async def deliver_event(self, url: str, team: TeamRef, event: dict[str, Any]) -> list[Delivery]:
        """As Slack does: send, then retry after failures (``event_retry_delays``)."""
        return await self.http_events.deliver(url, self.state.team(team), event)

    async def url_verification(self, url: str) -> UrlVerification:
        """The challenge Slack sends when the Request URL is saved; ``.passed`` says whether
        the app answered it."""
        return await self.http_events.url_verification(url)

    async def send_malformed_event(self, url: str) -> tuple[int | None, str]:
        """A signed request whose body is not JSON."""
        delivery = await self.http_events.send_malformed(url)
        return delivery.status, delivery.answer

    @property
    def last_event_id(self) -> str | None:
        return self.envelopes.last_event_id

    @property
    def deliveries(self) -> list[Delivery]:
        """Every HTTP request the fake sent to an app, in order."""
        return self.sender.log

    # --- slash commands ------------------------------------------------------------------------

    async def slash_command(
        self,
        url: str,
        team: TeamRef,
        channel: ChannelRef,
        user: UserRef,
        command: str,
        text: str = "",
        *,
        tamper: Tamper | None = None,
    ) -> tuple[int | None, str]:
        """``user`` runs ``command text`` in ``channel``: a signed form POST to ``url``;
        (status, body) of the answer. A non-empty answer is shown as Slack would show it."""
        issued = self._issue(team, channel, user, command, text, "http")
        fields = self._command_fields(issued)
        delivery = await self.sender.send(
            "slash_command",
            url,
            urlencode(fields).encode(),
            "application/x-www-form-urlencoded",
            tamper=tamper,
        )
        issued.status = delivery.status
        answer = delivery.answer.strip()
        if delivery.ok and answer:
            self.commands.answered(issued, _json_object(answer) or answer)
        return delivery.status, delivery.answer

    def _issue(
        self,
        team: TeamRef,
        channel: ChannelRef,
        user: UserRef,
        command: str,
        text: str,
        transport: Literal["http", "socket"],
    ) -> SlashCommand:
        return self.commands.issue(
            self.state.team(team),
            self.state.channel(channel),
            self.state.user(user),
            command,
            text,
            transport,
        )

    def _command_fields(self, issued: SlashCommand) -> dict[str, str]:
        return payloads.slash_command(
            self.state.app,
            self.state.team(issued.team_id),
            self.state.channel(issued.channel_id),
            self.state.user(issued.user_id),
            issued.command,
            issued.text,
            response_url=issued.response_url,
            trigger_id=issued.trigger_id,
        )

    def command(self, ref: CommandRef | None = None) -> SlashCommand:
        """A slash command by id (default: the last one sent)."""
        if isinstance(ref, SlashCommand):
            return ref
        if ref is None:
            return list(self.state.commands.values())[-1]
        return self.state.commands[ref]

    @property
    def last_command(self) -> SlashCommand:
        return self.command()

    def responses(self, command: CommandRef | None = None) -> list[dict[str, Any]]:
        """What the app POSTed (accepted) to the command's ``response_url``."""
        return self.command(command).responses

    async def wait_for_responses(
        self, n: int, command: CommandRef | None = None, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        chosen = self.command(command)
        return await self.state.changes.wait_until(
            lambda: chosen.responses if len(chosen.responses) >= n else None,
            timeout,
            f"{n} response_url posts for {chosen.command}",
        )

    # --- Socket Mode ---------------------------------------------------------------------------

    async def socket_event(
        self, team: TeamRef, event: dict[str, Any], *, timeout: float = 5.0
    ) -> str:
        """Deliver ``event`` (in its event_callback envelope) over Socket Mode; the envelope
        id. Waits up to ``timeout`` for the app to be connected."""
        envelope = self.envelopes.new(self.state.team(team), event)
        delivered = await self.socket.deliver(
            "events_api", envelope, accepts_response_payload=False, timeout=timeout
        )
        return delivered.id

    async def socket_slash_command(
        self,
        team: TeamRef,
        channel: ChannelRef,
        user: UserRef,
        command: str,
        text: str = "",
        *,
        timeout: float = 5.0,
    ) -> str:
        """``user`` runs ``command text`` with the app in Socket Mode; the envelope id. An ack
        with a ``payload`` is the command's direct answer."""
        issued = self._issue(team, channel, user, command, text, "socket")
        issued.envelope_id = wire.new_uuid()
        self._command_envelopes[issued.envelope_id] = issued
        await self.socket.deliver(
            "slash_commands",
            self._command_fields(issued),
            accepts_response_payload=True,
            envelope_id=issued.envelope_id,
            timeout=timeout,
        )
        return issued.envelope_id

    async def socket_interactive(
        self,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        timeout: float = 5.0,
    ) -> str:
        """An ``interactive`` envelope (block_actions, view_submission, shortcut ...)."""
        delivered = await self.socket.deliver(
            "interactive",
            payload,
            accepts_response_payload=accepts_response_payload,
            timeout=timeout,
        )
        return delivered.id

    def _acked(self, envelope: SocketEnvelope, ack: Ack) -> None:
        issued = self._command_envelopes.get(envelope.id)
        if issued is not None and len(envelope.acks) == 1 and ack.payload:
            self.commands.answered(issued, ack.payload)

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        """The app's first ack of the envelope."""
        envelope = self.socket.envelopes[envelope_id]
        return await self.state.changes.wait_until(
            lambda: envelope.acks[0] if envelope.acks else None,
            timeout,
            f"an ack of envelope {envelope_id}",
        )

    def socket_envelope(self, envelope_id: str) -> SocketEnvelope:
        """An envelope with every delivery of it and every ack."""
        return self.socket.envelopes[envelope_id]

    async def socket_disconnect(
        self, reason: str = "refresh_requested", *, close_after: float = 0.0
    ) -> None:
        """Send ``{"type": "disconnect", "reason": ...}`` on every open connection, then close
        them (after ``close_after`` seconds; Slack sends ``warning`` some seconds ahead)."""
        await self.socket.disconnect(reason, close_after)

    async def wait_for_socket(self, n_connections: int = 1, timeout: float = 5.0) -> int:
        """Until at least ``n_connections`` are open (each got its hello); their number."""
        return await self.socket.wait_for_connections(n_connections, timeout)

    @property
    def socket_connects(self) -> int:
        """Socket Mode connections ever opened (reconnects count)."""
        return self.socket.connects

    # --- OAuth ---------------------------------------------------------------------------------

    def authorize_url(
        self,
        scope: str = "app_mentions:read,channels:history,chat:write,commands",
        *,
        redirect_uri: str | None = None,
        state: str | None = None,
        user_scope: str | None = None,
    ) -> str:
        """An install link as an app would build it."""
        query = {"client_id": self.client_id, "scope": scope}
        optional = {"user_scope": user_scope, "redirect_uri": redirect_uri, "state": state}
        query.update({key: value for key, value in optional.items() if value is not None})
        return f"{self.base_url}/oauth/v2/authorize?{urlencode(query)}"

    def approve(self, authorize_url: str, team: TeamRef, user: UserRef) -> str:
        """``user`` clicks Allow on the authorize page for ``team``: the callback URL Slack
        redirects to (``code``, ``state``). Raises ``AuthorizeError`` where Slack shows an
        error page instead."""
        return self.oauth.approve(authorize_url, self.state.team(team), self.state.user(user))

    @property
    def openid_url(self) -> str:
        """Sign in with Slack's authorize page (OpenID Connect)."""
        return f"{self.base_url}/openid/connect/authorize"

    def authorize_as(self, team: TeamRef, user: UserRef) -> None:
        """The person "signed in to Slack" who approves the next Sign in with Slack."""
        self.openid.signed_in = (self.state.team(team).id, self.state.user(user).id)

    def deny(self, authorize_url: str) -> str:
        """The user clicks Cancel: the callback URL with ``error=access_denied``."""
        return self.oauth.deny(authorize_url)

    # --- Web API controls and recorders --------------------------------------------------------

    def force_429(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` get HTTP 429 with ``Retry-After``."""
        self.api.forced.force(method, times, retry_after)

    def limit_post_message(
        self, enabled: bool = True, *, rate: float = 1.0, burst: int = 3
    ) -> None:
        """chat.postMessage allows ``rate`` messages a second per channel, ``burst`` at once."""
        self.chat.limiter = PerKeyBucket(self.state.clock, rate, burst) if enabled else None

    @property
    def calls(self) -> list[Call]:
        """Every Web API call, in order."""
        return self.state.calls

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.state.calls if c.method == method]

    def posted(self, channel: ChannelRef | None = None) -> list[PostedMessage]:
        """Messages the app made visible to everyone (not ephemeral), oldest first."""
        wanted = None if channel is None else self.state.channel(channel).id
        return [
            m for m in self.state.posted if m.ephemeral_to is None and wanted in (None, m.channel)
        ]

    def ephemerals(self, channel: ChannelRef | None = None) -> list[PostedMessage]:
        wanted = None if channel is None else self.state.channel(channel).id
        return [
            m
            for m in self.state.posted
            if m.ephemeral_to is not None and wanted in (None, m.channel)
        ]

    def dms(self, user: UserRef) -> list[PostedMessage]:
        """What the app posted in its IMs with ``user``."""
        user_id = self.state.user(user).id
        ims = {c.id for c in self.state.channels.values() if c.im_user == user_id}
        return [m for m in self.posted() if m.channel in ims]

    async def wait_for_posted(
        self, n: int, channel: ChannelRef | None = None, timeout: float = 5.0
    ) -> list[PostedMessage]:
        return await self._wait_for(lambda: self.posted(channel), n, "posted messages", timeout)

    async def wait_for_ephemerals(
        self, n: int, channel: ChannelRef | None = None, timeout: float = 5.0
    ) -> list[PostedMessage]:
        return await self._wait_for(lambda: self.ephemerals(channel), n, "ephemerals", timeout)

    async def wait_for_dms(
        self, n: int, user: UserRef, timeout: float = 5.0
    ) -> list[PostedMessage]:
        return await self._wait_for(lambda: self.dms(user), n, "DMs", timeout)

    async def _wait_for(
        self, found: Callable[[], list[Any]], n: int, what: str, timeout: float
    ) -> list[Any]:
        def enough() -> list[Any] | None:
            items = found()
            return items if len(items) >= n else None

        return await self.state.changes.wait_until(enough, timeout, f"{n} {what}")

    # --- echoes of what the bot posted ---------------------------------------------------------

    def _echo(self, message: PostedMessage) -> None:
        if not self.echo_bot_messages:
            return
        team = self.state.teams[message.team_id]
        channel = self.state.channels[message.channel]
        parent = channel.find_message(message.thread_ts) if message.thread_ts else None
        event = payloads.message(
            channel,
            team.bot,
            message.text,
            message.ts,
            thread_ts=message.thread_ts,
            parent_user_id=parent.get("user") if parent else None,
        )
        if self.request_url is not None:
            self._spawn(self.http_events.deliver(self.request_url, team, event))
        elif self.socket.connections:
            self._spawn(self.socket_event(team, event))


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
