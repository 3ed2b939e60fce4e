"""What the fake Slack knows: the app, workspaces (teams) with their users and conversations,
tokens, and what the app did (messages it posted, slash commands and their responses)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from . import wire

T = TypeVar("T")
Kind = Literal["public", "private", "im", "mpim"]
TokenKind = Literal["bot", "user", "app"]


class Changes:
    """Wakes whoever waits for the state to reach some condition, each time it changes."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait_until(self, found: Callable[[], T | None], timeout: float, what: str) -> T:
        """``found()`` once it is not None, checked after every change."""
        try:
            async with asyncio.timeout(timeout):
                while (result := found()) is None:
                    if self._event is None:
                        self._event = asyncio.Event()
                    await self._event.wait()
        except TimeoutError:
            raise TimeoutError(f"fake Slack: gave up after {timeout}s waiting for {what}") from None
        return result


@dataclass
class App:
    id: str
    name: str
    client_id: str
    client_secret: str
    signing_secret: str
    verification_token: str  # the deprecated ``token`` field events and commands still carry
    app_token: str  # xapp-, for apps.connections.open
    redirect_uris: tuple[str, ...] = ()  # empty: any redirect_uri is accepted


@dataclass(eq=False)
class User:
    id: str
    team_id: str
    name: str
    real_name: str = ""
    display_name: str = ""
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    bot_id: str | None = None  # bot users only
    app_id: str | None = None  # the app a bot user belongs to
    deleted: bool = False
    updated: int = 0


@dataclass(eq=False)
class Team:
    id: str
    name: str
    domain: str
    bot: User
    bot_id: str
    bot_token: str
    scopes: tuple[str, ...] = ("app_mentions:read", "channels:history", "chat:write", "commands")

    @property
    def bot_user_id(self) -> str:
        return self.bot.id

    @property
    def url(self) -> str:
        return f"https://{self.domain}.slack.com/"


@dataclass(eq=False)
class Channel:
    id: str
    team_id: str
    name: str
    kind: Kind
    created: int
    creator: str
    members: list[str] = field(default_factory=list)  # user ids, in joining order
    archived: bool = False
    is_general: bool = False
    im_user: str | None = None  # the other person of an IM
    history: list[dict[str, Any]] = field(default_factory=list)  # what people said there

    @property
    def event_channel_type(self) -> str:
        """``channel_type`` of message events: channel, group, im or mpim."""
        return {"public": "channel", "private": "group"}.get(self.kind, self.kind)

    def find_message(self, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.history if m.get("ts") == ts), None)


@dataclass
class Token:
    value: str
    kind: TokenKind
    team_id: str | None  # None for the app-level token
    user_id: str | None  # the bot user for bot tokens, the person for user tokens
    scopes: tuple[str, ...] = ()
    revoked: bool = False


@dataclass
class PostedMessage:
    """Something the app made appear in a conversation."""

    channel: str
    team_id: str
    ts: str
    text: str
    user: str  # the bot user
    bot_id: str
    thread_ts: str | None = None
    ephemeral_to: str | None = None  # the only user who sees it
    reply_broadcast: bool = False
    mrkdwn: bool = True
    blocks: list[Any] | None = None
    source: str = "chat.postMessage"  # or chat.postEphemeral, response_url, command_reply
    command_id: str | None = None


@dataclass
class SlashCommand:
    id: str
    team_id: str
    channel_id: str
    user_id: str
    command: str
    text: str
    response_url: str
    trigger_id: str
    issued_at: float
    transport: Literal["http", "socket"]
    envelope_id: str | None = None
    immediate: Any = None  # the app's direct answer: a dict, a text, or None
    status: int | None = None  # HTTP status of the direct answer (HTTP transport)
    responses: list[dict[str, Any]] = field(default_factory=list)  # accepted response_url posts
    refused: list[tuple[str, Any]] = field(default_factory=list)  # (error, body) of refused ones


@dataclass
class Call:
    """One Web API call as the fake answered it."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))


class SlackState:
    def __init__(self, clock: Callable[[], float], app: App) -> None:
        self.clock = clock
        self.app = app
        self.ts = wire.TsClock()
        self.teams: dict[str, Team] = {}
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.tokens: dict[str, Token] = {}
        self.ims: dict[tuple[str, str], str] = {}  # (team id, user id) -> IM channel id
        self.posted: list[PostedMessage] = []
        self.commands: dict[str, SlashCommand] = {}
        self.calls: list[Call] = []
        self.changes = Changes()
        self.tokens[app.app_token] = Token(app.app_token, "app", None, None)

    def now(self) -> int:
        return int(self.clock())

    def next_ts(self) -> str:
        return self.ts.next(self.clock())

    # --- lookups ------------------------------------------------------------------------------

    def team(self, ref: Team | str) -> Team:
        return ref if isinstance(ref, Team) else self.teams[ref]

    def user(self, ref: User | str) -> User:
        return ref if isinstance(ref, User) else self.users[ref]

    def channel(self, ref: Channel | str) -> Channel:
        return ref if isinstance(ref, Channel) else self.channels[ref]

    def team_user(self, team_id: str, user_id: str) -> User | None:
        user = self.users.get(user_id)
        return user if user is not None and user.team_id == team_id else None

    def resolve_channel(self, team_id: str, ref: str) -> Channel | None:
        """A conversation of the team by id, ``#name`` or name, or a user id (their IM)."""
        if ref.startswith(("U", "W")) and self.team_user(team_id, ref):
            return self.open_im(team_id, ref)[0]
        found = self.channels.get(ref)
        if found is not None:
            return found if found.team_id == team_id else None
        name = ref.removeprefix("#")
        return next(
            (c for c in self.channels.values() if c.team_id == team_id and c.name == name), None
        )

    def open_im(self, team_id: str, user_id: str) -> tuple[Channel, bool]:
        """The team bot's IM with the user, created on first use; also whether it existed."""
        existing = self.ims.get((team_id, user_id))
        if existing is not None:
            return self.channels[existing], True
        team = self.teams[team_id]
        channel = Channel(
            wire.slack_id("D"),
            team_id,
            user_id,
            "im",
            self.now(),
            team.bot_user_id,
            [team.bot_user_id, user_id],
            im_user=user_id,
        )
        self.channels[channel.id] = channel
        self.ims[(team_id, user_id)] = channel.id
        return channel, False

    # --- what the app did ---------------------------------------------------------------------

    def record_posted(self, message: PostedMessage) -> PostedMessage:
        self.posted.append(message)
        self.changes.notify()
        return message

    def record_call(self, call: Call) -> None:
        self.calls.append(call)
        self.changes.notify()
