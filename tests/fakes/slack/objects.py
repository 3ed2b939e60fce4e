"""Slack's objects as the Web API returns them (user, conversation, team, bot profile, a posted
message), built from the recorded examples."""

from __future__ import annotations

from typing import Any

from .examples import example
from .model import Channel, PostedMessage, Team, User


def user_object(user: User) -> dict[str, Any]:
    obj: dict[str, Any] = example("web.users.info")["user"]
    real_name = user.real_name or user.name
    first, _, last = real_name.partition(" ")
    obj.update(
        id=user.id,
        team_id=user.team_id,
        name=user.name,
        deleted=user.deleted,
        real_name=real_name,
        is_admin=user.is_admin,
        is_owner=user.is_owner,
        is_primary_owner=user.is_primary_owner,
        is_bot=user.is_bot,
        updated=user.updated,
    )
    obj["profile"].update(
        real_name=real_name,
        real_name_normalized=real_name,
        display_name=user.display_name,
        display_name_normalized=user.display_name,
        first_name=first,
        last_name=last,
        team=user.team_id,
    )
    if user.is_bot:
        obj["is_email_confirmed"] = False
        obj["profile"].update(bot_id=user.bot_id, api_app_id=user.app_id, always_active=True)
    return obj


def conversation_object(channel: Channel, bot_user_id: str) -> dict[str, Any]:
    if channel.kind == "im":
        im: dict[str, Any] = example("web.conversations.info.im")["channel"]
        im.update(
            id=channel.id,
            created=channel.created,
            is_archived=channel.archived,
            context_team_id=channel.team_id,
            updated=channel.created * 1000,
            user=channel.im_user,
        )
        return im
    obj: dict[str, Any] = example("web.conversations.info")["channel"]
    obj.update(
        id=channel.id,
        name=channel.name,
        # C-ids are channels whether public or private; only legacy G-ids were "groups".
        is_channel=channel.kind != "mpim",
        is_mpim=channel.kind == "mpim",
        is_private=channel.kind != "public",
        created=channel.created,
        is_archived=channel.archived,
        is_general=channel.is_general,
        name_normalized=channel.name,
        context_team_id=channel.team_id,
        updated=channel.created * 1000,
        creator=channel.creator,
        shared_team_ids=[channel.team_id],
        is_member=bot_user_id in channel.members,
    )
    return obj


def team_object(team: Team) -> dict[str, Any]:
    obj: dict[str, Any] = example("web.team.info")["team"]
    obj.update(id=team.id, name=team.name, url=team.url, domain=team.domain)
    return obj


def bot_profile(bot: User) -> dict[str, Any]:
    profile: dict[str, Any] = example("web.chat.postMessage")["message"]["bot_profile"]
    profile.update(
        id=bot.bot_id,
        app_id=bot.app_id,
        name=bot.real_name or bot.name,
        updated=bot.updated,
        team_id=bot.team_id,
    )
    return profile


def posted_message(
    message: PostedMessage, bot: User, parent_user_id: str | None = None
) -> dict[str, Any]:
    """The ``message`` chat.postMessage returns."""
    obj: dict[str, Any] = example("web.chat.postMessage")["message"]
    obj.update(
        user=message.user,
        ts=message.ts,
        bot_id=message.bot_id,
        app_id=bot.app_id,
        text=message.text,
        team=message.team_id,
        bot_profile=bot_profile(bot),
    )
    if message.blocks is not None:
        obj["blocks"] = message.blocks
    if message.thread_ts is not None:
        obj["thread_ts"] = message.thread_ts
        obj["parent_user_id"] = parent_user_id or message.user
        if message.reply_broadcast:
            obj["subtype"] = "thread_broadcast"
    return obj
