"""Message bodies the bot sends (channel messages, DMs, interaction responses, follow-ups):
Discord's validation (2000 characters, nonce, embeds, allowed_mentions, message_reference) and
which mentions actually ping under ``allowed_mentions``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import wire
from .model import Channel, DiscordState, Message

MAX_CONTENT = 2000
MAX_NONCE = 25
MAX_EMBEDS = 10

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE_MENTION = re.compile(r"@(everyone|here)\b")


@dataclass
class Checked:
    """A validated message body: ``errors`` (a 50035 tree) when it is refused."""

    content: str
    embeds: list[dict[str, Any]]
    components: list[dict[str, Any]]
    flags: int
    tts: bool
    nonce: str | int | None
    allowed_mentions: dict[str, Any] | None
    reference: dict[str, Any] | None
    errors: dict[str, Any] = field(default_factory=dict)
    empty: bool = False


def check_body(
    state: DiscordState,
    body: dict[str, Any],
    channel: Channel | None,
    *,
    allow_reference: bool = True,
) -> Checked:
    errors: list[dict[str, Any]] = []
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        content = str(content)
    content = content or ""
    if len(content) > MAX_CONTENT:
        errors.append(
            wire.field_errors(
                "content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
            )
        )
    nonce = body.get("nonce")
    if isinstance(nonce, str) and len(nonce) > MAX_NONCE:
        errors.append(
            wire.field_errors(
                "nonce", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_NONCE} or fewer in length."
            )
        )
    embeds = list(body.get("embeds") or [])
    if len(embeds) > MAX_EMBEDS:
        errors.append(
            wire.field_errors(
                "embeds", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length."
            )
        )
    allowed = body.get("allowed_mentions")
    if isinstance(allowed, dict):
        parse = allowed.get("parse") or []
        for kind in ("users", "roles"):
            if kind in parse and allowed.get(kind):
                errors.append(
                    wire.field_errors(
                        f"allowed_mentions.{kind}",
                        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                        f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                    )
                )
    reference = body.get("message_reference") if allow_reference else None
    if isinstance(reference, dict):
        target = state.messages.get(str(reference.get("message_id")))
        in_channel = target is not None and target.channel_id == str(
            reference.get("channel_id") or (channel.id if channel else "")
        )
        if not in_channel:
            if reference.get("fail_if_not_exists", True):
                errors.append(
                    wire.field_errors(
                        "message_reference",
                        "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                        "Unknown message",
                    )
                )
            reference = None
        elif target is not None:
            reference = {
                "message_id": target.id,
                "channel_id": target.channel_id,
                **({"guild_id": target.guild_id} if target.guild_id else {}),
                **(
                    {"fail_if_not_exists": reference["fail_if_not_exists"]}
                    if "fail_if_not_exists" in reference
                    else {}
                ),
            }
    else:
        reference = None
    checked = Checked(
        content=content,
        embeds=embeds,
        components=list(body.get("components") or []),
        flags=int(body.get("flags") or 0),
        tts=bool(body.get("tts")),
        nonce=nonce,
        allowed_mentions=allowed if isinstance(allowed, dict) else None,
        reference=reference,
        errors=wire.merge_errors(*errors) if errors else {},
    )
    checked.empty = not (
        content
        or embeds
        or checked.components
        or body.get("sticker_ids")
        or body.get("poll")
        or body.get("attachments")
    )
    return checked


def resolve_mentions(
    state: DiscordState,
    checked: Checked,
    channel: Channel | None,
) -> tuple[list[str], list[str], bool]:
    """(users pinged, roles pinged, whether @everyone/@here pinged) for a message from the bot,
    under its ``allowed_mentions`` (absent: everything parses, and a reply pings its author).
    @everyone pings only with MENTION_EVERYONE in the channel."""
    allowed = checked.allowed_mentions
    parse = (
        set(allowed.get("parse") or []) if allowed is not None else {"users", "roles", "everyone"}
    )
    allowed_users = {str(u) for u in (allowed or {}).get("users") or []}
    allowed_roles = {str(r) for r in (allowed or {}).get("roles") or []}
    users = [
        uid
        for uid in dict.fromkeys(USER_MENTION.findall(checked.content))
        if "users" in parse or uid in allowed_users
    ]
    roles = [
        rid
        for rid in dict.fromkeys(ROLE_MENTION.findall(checked.content))
        if "roles" in parse or rid in allowed_roles
    ]
    if checked.reference is not None:
        target = state.messages.get(checked.reference["message_id"])
        replied = allowed is None or bool(allowed.get("replied_user"))
        if target is not None and replied and target.author.id not in users:
            users.append(target.author.id)
    everyone = False
    if "everyone" in parse and EVERYONE_MENTION.search(checked.content):
        guild = state.guilds.get(channel.guild_id or "") if channel else None
        everyone = guild is not None and bool(
            guild.permissions_in(state.bot.id, channel.id if channel else "")
            & wire.MENTION_EVERYONE
        )
    return users, roles, everyone


def build_message(
    state: DiscordState,
    checked: Checked,
    channel: Channel,
    *,
    source: str,
    type_: int | None = None,
    interaction_id: str | None = None,
) -> Message:
    users, roles, everyone = resolve_mentions(state, checked, channel)
    message = Message(
        id=wire.snowflake(state.clock()),
        channel_id=channel.id,
        author=state.bot,
        content=checked.content,
        guild_id=channel.guild_id,
        embeds=checked.embeds,
        components=checked.components,
        flags=checked.flags,
        tts=checked.tts,
        nonce=checked.nonce,
        type=(
            type_
            if type_ is not None
            else (wire.MESSAGE_REPLY if checked.reference else wire.MESSAGE_DEFAULT)
        ),
        message_reference=checked.reference,
        allowed_mentions=checked.allowed_mentions,
        mentions=users,
        mention_roles=roles,
        mention_everyone=everyone,
        source=source,
        interaction_id=interaction_id,
        created_at=state.clock(),
    )
    if source in ("interaction", "followup"):
        message.webhook_id = state.application.id
        message.application_id = state.application.id
    return message


def apply_edit(state: DiscordState, message: Message, body: dict[str, Any]) -> dict[str, Any]:
    """Edit a message in place; returns the 50035 errors tree (empty when accepted)."""
    content = body.get("content", message.content)
    content = "" if content is None else str(content)
    if len(content) > MAX_CONTENT:
        return wire.field_errors(
            "content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
        )
    message.edits.append(dict(body))
    message.content = content
    if "embeds" in body:
        message.embeds = list(body.get("embeds") or [])
    if "components" in body:
        message.components = list(body.get("components") or [])
    if "allowed_mentions" in body:
        message.allowed_mentions = body.get("allowed_mentions")
    message.flags &= ~wire.LOADING
    message.edited_at = state.clock()
    return {}
