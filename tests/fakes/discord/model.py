"""What the fake Discord knows: the bot and its application, users, guilds with roles, channels,
threads and members, messages, interactions and application commands, and what the bot sent."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import wire

# What a new guild's @everyone role may do (constructed: view, send, read history, react, embed,
# use application commands, send in threads) and the bot's own role.
DEFAULT_EVERYONE_PERMISSIONS = (
    wire.VIEW_CHANNEL
    | wire.SEND_MESSAGES
    | wire.READ_MESSAGE_HISTORY
    | wire.ADD_REACTIONS
    | wire.EMBED_LINKS
    | wire.USE_APPLICATION_COMMANDS
    | wire.SEND_MESSAGES_IN_THREADS
)
DEFAULT_BOT_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS | wire.MANAGE_MESSAGES


@dataclass
class User:
    id: str
    username: str = ""
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None
    public_flags: int = 0

    def __post_init__(self) -> None:
        self.username = self.username or f"user{self.id[-4:]}"

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "public_flags": self.public_flags,
            "flags": self.public_flags,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }
        if self.bot:
            body["bot"] = True
        return body


@dataclass
class Role:
    id: str
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }


@dataclass
class Overwrite:
    """A channel permission overwrite; ``type`` 0 for a role, 1 for a member."""

    id: str
    type: int
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass
class Channel:
    id: str
    name: str | None
    type: int = wire.GUILD_TEXT
    guild_id: str | None = None
    position: int = 0
    parent_id: str | None = None
    topic: str | None = None
    nsfw: bool = False
    overwrites: list[Overwrite] = field(default_factory=list)
    recipients: list[User] = field(default_factory=list)  # DM channels
    owner_id: str | None = None  # threads: who started it
    archived: bool = False
    last_message_id: str | None = None

    @property
    def is_thread(self) -> bool:
        return self.type in wire.THREAD_TYPES

    @property
    def is_dm(self) -> bool:
        return self.type == wire.DM

    def payload(self, *, with_guild_id: bool = True) -> dict[str, Any]:
        if self.is_dm:
            return {
                "id": self.id,
                "type": self.type,
                "last_message_id": self.last_message_id,
                "flags": 0,
                "recipients": [u.payload() for u in self.recipients],
            }
        body: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "parent_id": self.parent_id,
            "nsfw": self.nsfw,
            "flags": 0,
            "last_message_id": self.last_message_id,
            "rate_limit_per_user": 0,
        }
        if with_guild_id and self.guild_id is not None:
            body["guild_id"] = self.guild_id
        if self.is_thread:
            body.update(
                owner_id=self.owner_id,
                message_count=0,
                member_count=1,
                thread_metadata={
                    "archived": self.archived,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": wire.iso8601(wire.snowflake_time(self.id)),
                    "locked": False,
                    "create_timestamp": wire.iso8601(wire.snowflake_time(self.id)),
                },
            )
            body.pop("position")
        else:
            body["topic"] = self.topic
            body["permission_overwrites"] = [o.payload() for o in self.overwrites]
        return body


@dataclass
class Member:
    user: User
    roles: list[str] = field(default_factory=list)
    nick: str | None = None
    joined_at: float = field(default_factory=time.time)
    premium_since: float | None = None
    pending: bool = False

    def payload(self, *, with_user: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "roles": list(self.roles),
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": wire.iso8601(self.joined_at),
            "premium_since": (
                wire.iso8601(self.premium_since) if self.premium_since is not None else None
            ),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": self.pending,
            "communication_disabled_until": None,
        }
        if with_user:
            body["user"] = self.user.payload()
        return body


@dataclass
class Guild:
    id: str
    name: str
    owner_id: str
    roles: dict[str, Role] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)  # threads included
    members: dict[str, Member] = field(default_factory=dict)
    preferred_locale: str = "en-US"
    premium_subscription_count: int = 0
    joined_at: float = field(default_factory=time.time)

    # --- building ------------------------------------------------------------------------------

    def add_role(
        self,
        name: str,
        permissions: int = 0,
        *,
        role_id: str | None = None,
        position: int | None = None,
        **extra: Any,
    ) -> Role:
        role = Role(
            role_id or wire.snowflake(),
            name,
            permissions,
            len(self.roles) if position is None else position,
            **extra,
        )
        self.roles[role.id] = role
        return role

    def add_channel(
        self,
        name: str,
        *,
        channel_id: str | None = None,
        type: int = wire.GUILD_TEXT,
        parent_id: str | None = None,
        topic: str | None = None,
        overwrites: Iterable[Overwrite] = (),
    ) -> Channel:
        channel = Channel(
            channel_id or wire.snowflake(),
            name,
            type,
            self.id,
            position=sum(1 for c in self.channels.values() if not c.is_thread),
            parent_id=parent_id,
            topic=topic,
            overwrites=list(overwrites),
        )
        self.channels[channel.id] = channel
        return channel

    def add_thread(
        self,
        parent_id: str,
        name: str,
        *,
        thread_id: str | None = None,
        owner_id: str | None = None,
        type: int = wire.PUBLIC_THREAD,
    ) -> Channel:
        thread = Channel(
            thread_id or wire.snowflake(),
            name,
            type,
            self.id,
            parent_id=parent_id,
            owner_id=owner_id or self.owner_id,
        )
        self.channels[thread.id] = thread
        return thread

    def add_member(
        self, user: User, roles: Iterable[str] = (), *, nick: str | None = None
    ) -> Member:
        member = Member(user, list(roles), nick)
        self.members[user.id] = member
        return member

    def set_overwrite(
        self,
        channel_id: str,
        target_id: str,
        *,
        allow: int = 0,
        deny: int = 0,
        member: bool = False,
    ) -> None:
        channel = self.channels[channel_id]
        channel.overwrites = [o for o in channel.overwrites if o.id != target_id]
        channel.overwrites.append(Overwrite(target_id, 1 if member else 0, allow, deny))

    # --- reading -------------------------------------------------------------------------------

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    @property
    def text_channels(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.type == wire.GUILD_TEXT]

    @property
    def threads(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.is_thread]

    def base_permissions(self, user_id: str) -> int:
        """The member's guild-wide permissions (Discord's documented computation)."""
        if user_id == self.owner_id:
            return wire.ALL_PERMISSIONS
        permissions = self.everyone.permissions
        member = self.members.get(user_id)
        for role_id in member.roles if member else ():
            role = self.roles.get(role_id)
            if role is not None:
                permissions |= role.permissions
        if permissions & wire.ADMINISTRATOR:
            return wire.ALL_PERMISSIONS
        return permissions

    def permissions_in(self, user_id: str, channel_id: str) -> int:
        """Base permissions with the channel's overwrites applied (@everyone, then the member's
        roles together, then the member); a thread uses its parent's overwrites."""
        base = self.base_permissions(user_id)
        if base & wire.ADMINISTRATOR:
            return wire.ALL_PERMISSIONS
        channel = self.channels.get(channel_id)
        if channel is not None and channel.is_thread and channel.parent_id:
            channel = self.channels.get(channel.parent_id)
        if channel is None:
            return base
        by_id = {o.id: o for o in channel.overwrites}
        permissions = base
        everyone = by_id.get(self.id)
        if everyone is not None:
            permissions = (permissions & ~everyone.deny) | everyone.allow
        member = self.members.get(user_id)
        allow = deny = 0
        for role_id in member.roles if member else ():
            overwrite = by_id.get(role_id)
            if overwrite is not None and overwrite.type == 0:
                allow |= overwrite.allow
                deny |= overwrite.deny
        permissions = (permissions & ~deny) | allow
        own = by_id.get(user_id)
        if own is not None and own.type == 1:
            permissions = (permissions & ~own.deny) | own.allow
        return permissions

    def stub(self) -> dict[str, Any]:
        """The unavailable guild READY lists before the GUILD_CREATE."""
        return {"id": self.id, "unavailable": True}

    def payload(self) -> dict[str, Any]:
        """The guild object (as ``GET /guilds/{id}`` shows it)."""
        return {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": self.owner_id,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": self.premium_subscription_count,
            "preferred_locale": self.preferred_locale,
            "public_updates_channel_id": None,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "stickers": [],
            "premium_progress_bar_enabled": False,
            "safety_alerts_channel_id": None,
        }

    def guild_create(self, visible_members: Iterable[str]) -> dict[str, Any]:
        """The GUILD_CREATE dispatch body: the guild plus joined_at, large, member_count,
        channels, threads and the members the connection may see."""
        body = self.payload()
        shown = [m for uid, m in self.members.items() if uid in set(visible_members)]
        body.update(
            joined_at=wire.iso8601(self.joined_at),
            large=len(self.members) > 250,
            unavailable=False,
            member_count=len(self.members),
            voice_states=[],
            members=[m.payload() for m in shown],
            channels=[
                c.payload(with_guild_id=False) for c in self.channels.values() if not c.is_thread
            ],
            threads=[c.payload() for c in self.threads],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
        )
        return body


@dataclass
class Message:
    """A message the fake knows: dispatched by a test or sent by the bot."""

    id: str
    channel_id: str
    author: User
    content: str = ""
    guild_id: str | None = None
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    tts: bool = False
    nonce: str | int | None = None
    type: int = wire.MESSAGE_DEFAULT
    message_reference: dict[str, Any] | None = None
    allowed_mentions: dict[str, Any] | None = None  # as the bot sent it (None: not sent)
    mentions: list[str] = field(default_factory=list)  # user ids actually mentioned
    mention_roles: list[str] = field(default_factory=list)
    mention_everyone: bool = False
    webhook_id: str | None = None
    application_id: str | None = None
    interaction_id: str | None = None
    source: str = "gateway"  # gateway | rest | interaction | followup
    created_at: float = field(default_factory=time.time)
    edited_at: float | None = None
    deleted: bool = False
    edits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & wire.EPHEMERAL)

    @property
    def reply_to(self) -> str | None:
        return (self.message_reference or {}).get("message_id")

    def payload(self, users: Callable[[str], User] | None = None) -> dict[str, Any]:
        mentioned = [users(uid).payload() if users else {"id": uid} for uid in self.mentions]
        body: dict[str, Any] = {
            "type": self.type,
            "channel_id": self.channel_id,
            "content": self.content,
            "attachments": [],
            "embeds": list(self.embeds),
            "timestamp": wire.iso8601(self.created_at),
            "edited_timestamp": (
                wire.iso8601(self.edited_at) if self.edited_at is not None else None
            ),
            "flags": self.flags,
            "components": list(self.components),
            "id": self.id,
            "author": self.author.payload(),
            "mentions": mentioned,
            "mention_roles": list(self.mention_roles),
            "pinned": False,
            "mention_everyone": self.mention_everyone,
            "tts": self.tts,
        }
        if self.nonce is not None:
            body["nonce"] = self.nonce
        if self.message_reference is not None:
            body["message_reference"] = {"type": 0, **self.message_reference}
        if self.webhook_id is not None:
            body["webhook_id"] = self.webhook_id
        if self.application_id is not None:
            body["application_id"] = self.application_id
        return body


@dataclass
class Interaction:
    """An interaction the fake sent (over the gateway or to the HTTP endpoint) and what the bot
    answered to it."""

    id: str
    token: str
    type: int
    application_id: str
    payload: dict[str, Any]
    created_at: float
    via: str  # gateway | http
    channel_id: str | None = None
    guild_id: str | None = None
    callbacks: list[Callback] = field(default_factory=list)
    original_message_id: str | None = None
    followup_ids: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)

    @property
    def response(self) -> Callback | None:
        return self.callbacks[0] if self.callbacks else None


@dataclass
class Callback:
    """One interaction response: ``via`` ``rest`` (the callback endpoint) or ``http`` (the body
    of the answer to the HTTP interactions request)."""

    interaction_id: str
    type: int
    data: dict[str, Any]
    at: float
    via: str
    accepted: bool = True
    status: int = 204

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & wire.EPHEMERAL)

    @property
    def content(self) -> str | None:
        return self.data.get("content")


@dataclass
class Command:
    id: str
    application_id: str
    name: str
    type: int = 1
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    guild_id: str | None = None
    default_member_permissions: str | None = None
    contexts: list[int] | None = None
    integration_types: list[int] | None = None
    nsfw: bool = False
    version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "application_id": self.application_id,
            "version": self.version,
            "default_member_permissions": self.default_member_permissions,
            "type": self.type,
            "name": self.name,
            "name_localizations": None,
            "description": self.description,
            "description_localizations": None,
            "dm_permission": True,
            "contexts": self.contexts,
            "integration_types": self.integration_types or [0],
            "nsfw": self.nsfw,
            **self.extra,
        }
        if self.options:
            body["options"] = self.options
        if self.guild_id is not None:
            body["guild_id"] = self.guild_id
        return body


@dataclass
class Registration:
    """One application-command write (bulk overwrite, create, edit, delete) the fake answered."""

    method: str
    guild_id: str | None
    body: Any
    status: int
    at: float


@dataclass
class Reaction:
    channel_id: str
    message_id: str
    emoji: str
    user_id: str
    at: float
    removed: bool = False


@dataclass
class Application:
    id: str
    name: str
    verify_key: str  # the Ed25519 public key, hex
    owner: User
    flags: int = 0

    def payload(self, bot: User) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot": bot.payload(),
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": self.verify_key,
            "flags": self.flags,
            "owner": self.owner.payload(),
            "team": None,
            "guild_id": None,
            "rpc_origins": [],
            "terms_of_service_url": None,
            "privacy_policy_url": None,
            "interactions_endpoint_url": None,
            "approximate_guild_count": 0,
            "tags": [],
            "redirect_uris": [],
        }


@dataclass
class DiscordState:
    """Everything shared by the REST, gateway and interaction halves of the fake."""

    clock: Callable[[], float]
    bot: User
    application: Application
    token: str
    users: dict[str, User] = field(default_factory=dict)
    guilds: dict[str, Guild] = field(default_factory=dict)
    dm_channels: dict[str, Channel] = field(default_factory=dict)  # by recipient user id
    messages: dict[str, Message] = field(default_factory=dict)
    sent: list[Message] = field(default_factory=list)  # what the bot sent, in order
    interactions: dict[str, Interaction] = field(default_factory=dict)
    commands: dict[str, Command] = field(default_factory=dict)
    registrations: list[Registration] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    # a person's OAuth2 tokens (oauth2.py): token -> (user id, scopes)
    bearer_tokens: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    def bearer_user(self, authorization: str) -> str | None:
        """Whose ``Bearer`` token this is, when it may read ``/users/@me`` (``identify``)."""
        scheme, _, value = authorization.partition(" ")
        found = self.bearer_tokens.get(value) if scheme == "Bearer" else None
        return found[0] if found and "identify" in found[1] else None

    dm_closed: set[str] = field(default_factory=set)  # users whose DMs refuse the bot

    def user(self, user_id: str) -> User:
        return self.users.get(user_id) or User(user_id)

    def channel(self, channel_id: str) -> Channel | None:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild.channels[channel_id]
        return next((c for c in self.dm_channels.values() if c.id == channel_id), None)

    def interaction_by_token(self, token: str) -> Interaction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    def commands_in(self, guild_id: str | None) -> list[Command]:
        return [c for c in self.commands.values() if c.guild_id == guild_id]
