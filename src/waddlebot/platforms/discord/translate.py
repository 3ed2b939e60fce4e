"""Discord gateway dispatches (the raw ``d`` of MESSAGE_CREATE, INTERACTION_CREATE,
GUILD_MEMBER_ADD / REMOVE, MESSAGE_REACTION_ADD) as canonical events.

Raw payloads rather than a library's objects: they are what Discord documents and what the
recorded examples in ``tests/fixtures/discord`` hold. What a payload does not carry — who owns
the guild, what each role may do, a thread's parent channel — comes from :class:`GuildFacts`,
which the collector fills from the gateway's guild cache.

Places: a guild channel is ``discord:<guild>:<channel>`` (a thread belongs to its parent
channel's place, with ``thread_id`` set); a direct message is ``discord:dm:<user>`` and its
event a ``whisper``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeGuard

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from waddlebot.core.events import Author, Event, EventType
from waddlebot.platforms.fields import Text, problem
from waddlebot.platforms.roles import DISCORD_ADMINISTRATOR, discord_roles

PLATFORM = "discord"
SLASH_PREFIX = "/"
BOOST_TYPES = frozenset({8, 9, 10, 11})  # USER_PREMIUM_GUILD_SUBSCRIPTION and its tiers
_OPTION_STRINGS = {3, 4, 5, 6, 7, 8, 9, 10}  # option types given as one value each
USER_OPTION = 6
_LEADING_MENTION = re.compile(r"^\s*<@!?(\d+)>[\s:,]*")


class MalformedDispatch(ValueError):
    """A dispatch that lacks what its type promises."""


@dataclass(frozen=True, slots=True)
class GuildFacts:
    owner_id: str
    role_permissions: Mapping[str, int] = field(default_factory=dict)  # @everyone's id = guild's
    thread_parents: Mapping[str, str] = field(default_factory=dict)  # thread id -> channel id
    role_levels: Mapping[str, int] = field(default_factory=dict)  # the community's mapping

    def permissions(self, guild_id: str, role_ids: list[str]) -> int:
        bits = self.role_permissions.get(guild_id, 0)
        for role_id in role_ids:
            bits |= self.role_permissions.get(role_id, 0)
        return -1 if bits & DISCORD_ADMINISTRATOR else bits


def is_snowflake(value: Any) -> TypeGuard[str]:
    """Whether ``value`` is a Discord id as payloads carry it: a string of at most 20 ASCII
    digits (64 bits)."""
    return isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20


def _snowflake(value: str) -> str:
    if not is_snowflake(value):
        raise ValueError("must be a Discord id (a string of up to 20 digits)")
    return value


def _bitfield(value: str) -> str:
    if not is_snowflake(value):  # the same digits
        raise ValueError("must be a permission bit set (a string of up to 20 digits)")
    return value


Snowflake = Annotated[str, AfterValidator(_snowflake)]
Bitfield = Annotated[str, AfterValidator(_bitfield)]


class _Checked(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class _User(_Checked):
    id: Snowflake
    username: Text = ""
    global_name: Text | None = None


class _Member(_Checked):
    user: _User | None = None
    roles: list[Snowflake] = Field(default_factory=list)
    permissions: Bitfield | None = None
    nick: Text | None = None


class _Option(_Checked):
    type: int
    name: Text = ""
    value: Text | bool | int | float | None = None
    options: list[_Option] | None = None


class _Command(_Checked):
    name: Text = Field(min_length=1)
    options: list[_Option] | None = None


class _SlashCommand(_Checked):
    """What WaddleBot reads of an application command interaction, as Discord types it."""

    id: Snowflake
    type: Literal[2]
    data: _Command
    channel_id: Snowflake
    guild_id: Snowflake | None = None
    member: _Member | None = None
    user: _User | None = None
    application_id: Snowflake | None = None
    token: Text = ""


def checked_command(data: Mapping[str, Any]) -> dict[str, Any]:
    """An application command interaction whose fields WaddleBot reads are what Discord
    documents; :class:`MalformedDispatch` naming the first that is not."""
    try:
        return _SlashCommand.model_validate(data).model_dump()
    except ValidationError as exc:
        raise MalformedDispatch(problem(exc, "interaction")) from exc


def dm_entity(user_id: str) -> str:
    return f"{PLATFORM}:dm:{user_id}"


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedDispatch(f"the dispatch has no {key!r}")
    return value


def _user(data: Mapping[str, Any]) -> Mapping[str, Any]:
    user = data.get("user") if isinstance(data.get("user"), Mapping) else data.get("author")
    if not isinstance(user, Mapping):
        raise MalformedDispatch("the dispatch names no user")
    return user


def _author(
    user: Mapping[str, Any],
    guild_id: str,
    member: Mapping[str, Any] | None,
    facts: GuildFacts | None,
) -> Author:
    user_id = _text(user, "id")
    roles: tuple[Any, ...] = ()
    if guild_id and member is not None:
        listed = member.get("roles")
        role_ids = [str(r) for r in listed] if isinstance(listed, list) else []
        given = member.get("permissions")  # interactions carry the computed permissions
        if is_snowflake(given):  # decimal digits, as ids are
            bits = int(given)
        else:
            bits = facts.permissions(guild_id, role_ids) if facts else 0
        roles = discord_roles(
            guild_owner=facts is not None and facts.owner_id == user_id,
            permissions=bits if bits >= 0 else DISCORD_ADMINISTRATOR,
            role_ids=role_ids,
            role_levels=facts.role_levels if facts else None,
        )
    name = member.get("nick") if member else None
    return _checked_author(
        user_id=user_id,
        login=str(user.get("username") or ""),
        display_name=str(name or user.get("global_name") or user.get("username") or ""),
        roles=roles,
    )


def _checked_author(**fields: Any) -> Author:
    try:
        return Author(**fields)
    except ValidationError as exc:
        raise MalformedDispatch(problem(exc, "author")) from exc


def _place(data: Mapping[str, Any], user_id: str, facts: GuildFacts | None) -> dict[str, str]:
    channel = _text(data, "channel_id")
    guild = data.get("guild_id")
    if not isinstance(guild, str) or not guild:
        return {"entity_id": dm_entity(user_id), "channel_id": channel}
    parent = facts.thread_parents.get(channel) if facts else None
    place = {  # a thread is its parent channel's place; replies still go into the thread
        "entity_id": f"{PLATFORM}:{guild}:{parent or channel}",
        "server_id": guild,
        "channel_id": channel,
    }
    if parent:
        place["thread_id"] = channel
    return place


def message_create(
    data: Mapping[str, Any], facts: GuildFacts | None, *, bot_user_id: str = ""
) -> Event | None:
    """A message in a channel or a DM; None for what must not be answered: bots (this one
    included) and webhooks. A leading mention of the bot is dropped from the text."""
    user = _user(data)
    if user.get("bot") or data.get("webhook_id") or str(user.get("id")) == bot_user_id:
        return None
    member = data.get("member") if isinstance(data.get("member"), Mapping) else None
    place = _place(data, _text(user, "id"), facts)
    guild = place.get("server_id", "")
    kind = EventType.CHAT_MESSAGE if guild else EventType.WHISPER
    if isinstance(data.get("type"), int) and data.get("type") in BOOST_TYPES:
        kind = EventType.BOOST
    reference = data.get("message_reference")
    to_bot = bool(bot_user_id) and _to_bot(data, bot_user_id)
    text = str(data.get("content") or "")
    if to_bot:  # as on Slack, "@bot !ping" is the command !ping and "@bot hi?" asks "hi?"
        mention = _LEADING_MENTION.match(text)
        if mention and mention.group(1) == bot_user_id:
            text = text[mention.end() :]
    return _event(
        **place,
        message_id=_text(data, "id"),
        type=kind,
        author=_author(user, guild, member, facts),
        text=text,
        reply_to=str(reference.get("message_id") or "") if isinstance(reference, Mapping) else "",
        to_bot=to_bot,
    )


def _to_bot(data: Mapping[str, Any], bot_user_id: str) -> bool:
    """Whether the message mentions the bot (its ``mentions`` array) or replies to the bot's
    message (``referenced_message``, which Discord sends whole with a reply)."""
    mentions = data.get("mentions")
    if isinstance(mentions, list) and any(
        isinstance(user, Mapping) and user.get("id") == bot_user_id for user in mentions
    ):
        return True
    parent = data.get("referenced_message")
    author = parent.get("author") if isinstance(parent, Mapping) else None
    return isinstance(author, Mapping) and author.get("id") == bot_user_id


def slash_command(data: Mapping[str, Any], facts: GuildFacts | None) -> Event | None:
    """An application command (interaction type 2) as ``/name args``; None for the other
    interaction types, which carry no command."""
    if data.get("type") != 2:
        return None
    data = checked_command(data)
    command = data["data"]
    member = data["member"]
    user = _user(member) if member else _user(data)
    place = _place(data, _text(user, "id"), facts)
    words = [f"{SLASH_PREFIX}{_text(command, 'name')}", *_option_words(command.get("options"))]
    return _event(
        **place,
        message_id=_text(data, "id"),
        type=EventType.SLASH_COMMAND,
        author=_author(user, place.get("server_id", ""), member, facts),
        text=" ".join(words),
    )


def _option_words(options: Any) -> list[str]:
    """Option values in order, quoted when they hold spaces (so ``/quote add`` with the text
    ``to be or not`` reaches the module as two arguments: add, then the text)."""
    words: list[str] = []
    for option in options or []:
        if not isinstance(option, Mapping):
            continue
        if option.get("type") in (1, 2):  # a subcommand (group): its name, then its options
            words.append(str(option.get("name") or ""))
            words.extend(_option_words(option.get("options")))
        elif option.get("type") == USER_OPTION and option.get("value") is not None:
            words.append(f"<@{option['value']}>")  # as a mention in a message: who it is
        elif option.get("type") in _OPTION_STRINGS and option.get("value") is not None:
            value = str(option["value"])
            words.append(f'"{value}"' if any(c.isspace() for c in value) else value)
    return [word for word in words if word]


def member_change(data: Mapping[str, Any], *, joined: bool) -> Event:
    """GUILD_MEMBER_ADD / REMOVE. The place is the guild (``discord:<guild>:``), as it is
    no channel's."""
    user = _user(data)
    guild = _text(data, "guild_id")
    user_id = _text(user, "id")
    stamp = str(data.get("joined_at") or "") if joined else ""
    return _event(
        entity_id=f"{PLATFORM}:{guild}:",
        server_id=guild,
        message_id=f"member-{'add' if joined else 'remove'}:{guild}:{user_id}:{stamp}",
        type=EventType.MEMBER_JOIN if joined else EventType.MEMBER_LEAVE,
        author=_checked_author(user_id=user_id, login=str(user.get("username") or "")),
    )


def reaction_add(data: Mapping[str, Any], facts: GuildFacts | None) -> Event:
    user_id = _text(data, "user_id")
    emoji = data.get("emoji")
    if not isinstance(emoji, Mapping):
        raise MalformedDispatch("the reaction has no emoji")
    name = str(emoji.get("name") or emoji.get("id") or "")
    place = _place(data, user_id, facts)
    return _event(
        **place,
        message_id=f"reaction:{_text(data, 'message_id')}:{user_id}:{name}",
        type=EventType.REACTION,
        author=_checked_author(user_id=user_id),
        text=name,
        reply_to=_text(data, "message_id"),
    )


def _event(**fields: Any) -> Event:
    try:
        return Event(platform=PLATFORM, **fields)
    except ValidationError as exc:
        raise MalformedDispatch(f"the dispatch does not fit: {exc.errors()[0]['msg']}") from exc
