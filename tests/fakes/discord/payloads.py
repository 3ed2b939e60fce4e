"""Gateway and interaction payloads built from the official examples in
``tests/fixtures/discord``, so tests change only what they care about instead of writing
Discord JSON by hand.

People are ``User`` objects (``discord.add_user`` returns them) or bare user ids; guilds and
channels are model objects or ids. Left out, a field keeps the official example's value."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from . import wire
from .model import Channel, Guild, Member, Message, User

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "discord"

Person = User | str
GuildRef = Guild | str
ChannelRef = Channel | str


@cache
def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def example(name: str) -> dict[str, Any]:
    """A fresh copy of a fixture (``message.example``, ``interaction.slash_command``, ...)."""
    return copy.deepcopy(_load(name))


def _user(who: Person) -> User:
    return who if isinstance(who, User) else User(who)


def _id(ref: Any) -> str:
    return str(ref.id if hasattr(ref, "id") else ref)


def user(who: Person) -> dict[str, Any]:
    return _user(who).payload()


def member(
    roles: Iterable[str] = (),
    *,
    who: Person | None = None,
    nick: str | None = None,
    joined_at: float | None = None,
    premium_since: float | None = None,
    permissions: int | None = None,
) -> dict[str, Any]:
    """A guild member object; with ``who`` it carries ``user`` (GUILD_MEMBER_ADD, interactions),
    without it is the partial member of MESSAGE_CREATE; ``permissions`` (interactions) is the
    member's computed permissions in the channel."""
    body = Member(
        _user(who or "0"),
        [str(r) for r in roles],
        nick,
        time.time() if joined_at is None else joined_at,
        premium_since,
    ).payload(with_user=who is not None)
    if permissions is not None:
        body["permissions"] = str(permissions)
    return body


def _channel_guild(channel: ChannelRef, guild: GuildRef | None) -> tuple[str, str | None]:
    channel_id = _id(channel)
    if guild is not None:
        return channel_id, _id(guild)
    if isinstance(channel, Channel):
        return channel_id, channel.guild_id
    return channel_id, None


def message_create(
    *,
    channel: ChannelRef,
    author: Person,
    content: str = "",
    guild: GuildRef | None = None,
    roles: Iterable[str] = (),
    nick: str | None = None,
    message_id: str | None = None,
    mentions: Sequence[Person] = (),
    mention_roles: Sequence[str] = (),
    mention_everyone: bool | None = None,
    reply_to: Mapping[str, Any] | Message | None = None,
    type_: int | None = None,
    at: float | None = None,
    author_member: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A MESSAGE_CREATE body: a message object plus ``guild_id`` and the author's partial
    ``member`` in a guild (``author_member``, or one built from ``roles`` and ``nick``), and
    ``mentions`` with partial members. ``reply_to`` is the parent (a body from this builder or
    a recorded ``Message``): it becomes the ``message_reference`` and ``referenced_message`` of
    a type 19 reply."""
    channel_id, guild_id = _channel_guild(channel, guild)
    at = time.time() if at is None else at
    body = example("message.example")
    body.update(
        id=message_id or wire.snowflake(at),
        channel_id=channel_id,
        author=user(author),
        content=content,
        timestamp=wire.iso8601(at),
        mention_everyone=(
            ("@everyone" in content or "@here" in content)
            if mention_everyone is None
            else mention_everyone
        ),
        mentions=[],
        mention_roles=[str(r) for r in mention_roles],
        flags=0,
        components=[],
        nonce=None,
        type=wire.MESSAGE_DEFAULT,
    )
    for who in mentions:
        mentioned = user(who)
        if guild_id:
            mentioned["member"] = member()
        body["mentions"].append(mentioned)
    if guild_id:
        body["guild_id"] = guild_id
        body["member"] = dict(author_member) if author_member else member(roles, nick=nick)
    if reply_to is not None:
        parent = reply_to.payload() if isinstance(reply_to, Message) else dict(reply_to)
        parent.pop("referenced_message", None)
        body["message_reference"] = {
            "type": 0,
            "message_id": parent["id"],
            "channel_id": parent["channel_id"],
            **({"guild_id": guild_id} if guild_id else {}),
        }
        body["referenced_message"] = parent
        body["type"] = wire.MESSAGE_REPLY
    if type_ is not None:
        body["type"] = type_
    body.update(overrides)
    return body


def message_update(message: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    body = dict(message)
    body.update(changes)
    body["edited_timestamp"] = wire.iso8601(time.time())
    return body


def message_delete(
    message_id: str, *, channel: ChannelRef, guild: GuildRef | None = None
) -> dict[str, Any]:
    channel_id, guild_id = _channel_guild(channel, guild)
    body = {"id": message_id, "channel_id": channel_id}
    if guild_id:
        body["guild_id"] = guild_id
    return body


# --- interactions --------------------------------------------------------------------------------

OPTION_STRING, OPTION_INTEGER, OPTION_BOOLEAN, OPTION_USER, OPTION_NUMBER = 3, 4, 5, 6, 10


def option(name: str, value: Any, type_: int | None = None) -> dict[str, Any]:
    """A command option as an interaction carries it (type from the value unless given)."""
    if type_ is None:
        if isinstance(value, bool):
            type_ = OPTION_BOOLEAN
        elif isinstance(value, int):
            type_ = OPTION_INTEGER
        elif isinstance(value, float):
            type_ = OPTION_NUMBER
        else:
            type_ = OPTION_STRING
    return {"type": type_, "name": name, "value": value}


def subcommand(
    name: str, options: Mapping[str, Any] | Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    return {"type": 1, "name": name, "options": _options(options)}


def _options(options: Mapping[str, Any] | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(options, Mapping):
        return [option(k, v) for k, v in options.items()]
    return [dict(o) for o in options]


def interaction(
    name: str,
    *,
    options: Mapping[str, Any] | Sequence[dict[str, Any]] = (),
    application_id: str = "",
    guild: GuildRef | None = None,
    channel: ChannelRef | None = None,
    user: Person | None = None,
    roles: Iterable[str] = (),
    nick: str | None = None,
    permissions: int | None = None,
    app_permissions: int = 0,
    command_id: str | None = None,
    command_type: int = 1,
    interaction_id: str | None = None,
    token: str | None = None,
    type_: int = wire.APPLICATION_COMMAND,
    locale: str = "en-US",
    guild_locale: str = "en-US",
    **overrides: Any,
) -> dict[str, Any]:
    """An application command interaction (type 2) from the official slash-command example.
    With a guild, the user comes as ``member`` (roles, computed ``permissions``); without, as
    ``user`` (a DM)."""
    body = example("interaction.slash_command")
    if channel is not None:
        channel_id, guild_id = _channel_guild(channel, guild)
    else:  # the example's guild channel, or the given guild's
        channel_id = body["channel_id"]
        guild_id = _id(guild) if guild is not None else body["guild_id"]
    example_member = body.pop("member")
    person = _user(user).payload() if user is not None else example_member["user"]
    body.update(
        id=interaction_id or wire.snowflake(),
        application_id=application_id or body.get("application_id", "0"),
        type=type_,
        token=token or wire.new_token(),
        version=1,
        channel_id=channel_id,
        locale=locale,
        app_permissions=str(app_permissions),
        entitlements=[],
        attachment_size_limit=10485760,
        data={
            "id": command_id or body["data"]["id"],
            "name": name,
            "type": command_type,
            **({"options": _options(options)} if options else {}),
            **({"guild_id": guild_id} if guild_id else {}),
        },
    )
    if guild_id:
        body["guild_id"] = guild_id
        body["guild_locale"] = guild_locale
        body["member"] = member(roles, who=None, nick=nick, permissions=permissions or 0)
        body["member"]["user"] = person
        body["authorizing_integration_owners"] = {"0": guild_id}
        body["context"] = 0
        body["channel"] = {"id": channel_id, "type": wire.GUILD_TEXT, "guild_id": guild_id}
        if isinstance(channel, Channel):
            body["channel"].update(name=channel.name, type=channel.type)
    else:
        body.pop("guild_id", None)
        body.pop("guild_locale", None)
        body["user"] = person
        body["authorizing_integration_owners"] = {"1": person["id"]}
        body["context"] = 1
        body["channel"] = {"id": channel_id, "type": wire.DM}
    body.update(overrides)
    return body


def ping(*, application_id: str = "", interaction_id: str | None = None) -> dict[str, Any]:
    """A PING interaction (type 1), as Discord sends to check an HTTP endpoint."""
    return {
        "app_permissions": "0",
        "application_id": application_id or "0",
        "entitlements": [],
        "id": interaction_id or wire.snowflake(),
        "token": wire.new_token(),
        "type": wire.PING,
        "version": 1,
    }


# --- guild members and reactions ----------------------------------------------------------------


def guild_member_add(
    guild: GuildRef, who: Person, roles: Iterable[str] = (), **fields: Any
) -> dict[str, Any]:
    body = member(roles, who=who, **fields)
    body["guild_id"] = _id(guild)
    return body


def guild_member_update(
    guild: GuildRef, who: Person, roles: Iterable[str] = (), **fields: Any
) -> dict[str, Any]:
    return guild_member_add(guild, who, roles, **fields)


def guild_member_remove(guild: GuildRef, who: Person) -> dict[str, Any]:
    return {"guild_id": _id(guild), "user": user(who)}


def message_reaction_add(
    *,
    who: Person,
    channel: ChannelRef,
    message_id: str,
    emoji: str = "\N{THUMBS UP SIGN}",
    emoji_id: str | None = None,
    guild: GuildRef | None = None,
    roles: Iterable[str] = (),
    message_author_id: str | None = None,
    burst: bool = False,
    reactor_member: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    channel_id, guild_id = _channel_guild(channel, guild)
    body: dict[str, Any] = {
        "user_id": _user(who).id,
        "type": 1 if burst else 0,
        "message_id": message_id,
        "channel_id": channel_id,
        "emoji": {"id": emoji_id, "name": emoji},
        "burst": burst,
        "burst_colors": [],
    }
    if message_author_id is not None:
        body["message_author_id"] = message_author_id
    if guild_id:
        body["guild_id"] = guild_id
        body["member"] = dict(reactor_member) if reactor_member else member(roles, who=who)
    return body


def message_reaction_remove(
    *,
    who: Person,
    channel: ChannelRef,
    message_id: str,
    emoji: str = "\N{THUMBS UP SIGN}",
    emoji_id: str | None = None,
    guild: GuildRef | None = None,
) -> dict[str, Any]:
    channel_id, guild_id = _channel_guild(channel, guild)
    body: dict[str, Any] = {
        "user_id": _user(who).id,
        "type": 0,
        "message_id": message_id,
        "channel_id": channel_id,
        "emoji": {"id": emoji_id, "name": emoji},
        "burst": False,
    }
    if guild_id:
        body["guild_id"] = guild_id
    return body
