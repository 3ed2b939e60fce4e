"""The ``shoutouts`` module: ``!so @name`` (moderators) and a shoutout for every raid of a
configured size: a line in chat, Twitch's own shoutout in the community's channel (queued
while Twitch's limits say wait), and one of their clips on the media overlay (their profile
card on the general page when they have none)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from waddlebot.core.events import EventType
from waddlebot.core.permissions import Level
from waddlebot.core.variables import ChainResolver, StandardVariables, VariableContext, render
from waddlebot.features.shoutouts.service import (
    ShoutoutRefused,
    Shoutouts,
    Streamer,
    TwitchMissing,
)
from waddlebot.features.shoutouts.targets import FindTwitchName
from waddlebot.platforms import max_length
from waddlebot.platforms.twitch.helix import Clip
from waddlebot.sdk import Context, Module, UsageError

DEFAULT_MESSAGE = "Go follow $(name), last seen playing $(game): $(url)"
CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "message": {
            "type": "string",
            "minLength": 1,
            "maxLength": 500,
            "default": DEFAULT_MESSAGE,
            "description": "what chat is told: $(name) $(login) $(game) $(url) $(title) and "
            "the custom-command variables",
        },
        "raid_min_viewers": {
            "type": "integer",
            "minimum": 0,
            "maximum": 1_000_000,
            "default": 5,
            "description": "a raid of at least this many viewers is shouted out; 0: none are",
        },
        "show_clip": {
            "type": "boolean",
            "default": True,
            "description": "play one of their clips on the media overlay",
        },
        "clip_max_seconds": {
            "type": "integer",
            "minimum": 5,
            "maximum": 60,
            "default": 60,
            "description": "the longest clip played",
        },
    },
}


class _StreamerVariables:
    def __init__(self, streamer: Streamer) -> None:
        self._streamer = streamer

    async def resolve(self, name: str, args: list[str]) -> str | None:
        streamer = self._streamer
        values = {
            "name": streamer.name,
            "login": streamer.login,
            "game": streamer.game or "nothing yet",
            "url": streamer.url,
            "title": streamer.description,
        }
        return values.get(name.lower())


def build_shoutouts_module(
    shoutouts: Shoutouts, find_twitch_name: FindTwitchName, *, overlay_host: str
) -> Module:
    """``overlay_host``: the host OBS opens the overlay pages at (a Twitch clip embed must
    name its parent page's host)."""
    module = Module(
        "shoutouts",
        version="1.0.0",
        description="Shoutouts: !so @name and raids, with Twitch's shoutout and a clip",
        config_schema=CONFIG_SCHEMA,
    )

    async def shout(ctx: Context, streamer: Streamer) -> None:
        variables = VariableContext(
            user=ctx.caller_name,
            args=ctx.args,
            query=ctx.rest,
            channel=ctx.request.entity_id,
            platform=ctx.request.platform,
            clock=shoutouts.clock,
        )
        resolver = ChainResolver(_StreamerVariables(streamer), StandardVariables(variables))
        limit = max_length(ctx.request.platform)
        ctx.say(await render(str(ctx.config["message"]), resolver, max_length=limit))
        clip = None
        if ctx.config["show_clip"]:
            clip = await shoutouts.clip_of(streamer, max_seconds=ctx.config["clip_max_seconds"])
        if clip is not None:
            show_clip(ctx, clip, streamer)
        else:
            ctx.overlay.card(
                streamer.name,
                streamer.description[:1000]
                or f"Last seen playing {streamer.game or 'nothing yet'}",
                image=streamer.profile_image_url,
                duration=15,
            )
        channel = await shoutouts.channel_of(ctx.request.community_id)
        if channel is None or channel == streamer.id:
            return
        try:
            queued = await shoutouts.give(channel, streamer)
        except ShoutoutRefused as refused:
            ctx.reply(f"Twitch refused its shoutout to {streamer.name}: {refused}")
            return
        if queued is not None:
            ctx.reply(_queued(streamer, queued, shoutouts.clock.now()))

    def show_clip(ctx: Context, clip: Clip, streamer: Streamer) -> None:
        embed = f"https://clips.twitch.tv/embed?clip={quote(clip.id, safe='')}"
        ctx.overlay.clip(
            f"{embed}&parent={quote(overlay_host, safe='')}",
            title=clip.title[:200],
            channel=streamer.name[:64],
            duration=clip.duration,
            embed=True,
        )

    @module.command(
        "so",
        usage="<@name>",
        level=int(Level.MODERATOR),
        description="Shout a streamer out: chat, Twitch's shoutout and one of their clips",
    )
    async def so(ctx: Context) -> None:
        if len(ctx.args) != 1:
            raise UsageError("name one streamer, e.g. !so @penguinz")
        given = ctx.args[0]
        try:
            login = await find_twitch_name(ctx.request.platform, given)
            streamer = await shoutouts.find(login=login)
        except TwitchMissing:
            ctx.reply("Shoutouts need Twitch, and this bot has no Twitch application set up.")
            return
        if streamer is None:
            ctx.reply(f"I can't find {given.lstrip('@')} on Twitch.")
            return
        await shout(ctx, streamer)

    @module.on(EventType.RAID)
    async def raided(ctx: Context) -> None:
        caller, viewers = ctx.request.caller, ctx.request.amounts.viewers
        wanted = int(ctx.config["raid_min_viewers"])
        if caller is None or ctx.request.platform != "twitch" or wanted == 0:
            return
        if viewers is None or viewers < wanted:
            return
        try:
            streamer = await shoutouts.find(user_id=caller.identity.user_id)
        except TwitchMissing:
            return
        if streamer is not None:
            await shout(ctx, streamer)

    return module


def _queued(streamer: Streamer, at: datetime, now: datetime) -> str:
    minutes = max(1, round((at - now).total_seconds() / 60))
    return (
        f"Twitch allows a shoutout every 2 minutes and one per streamer an hour: "
        f"its shoutout to {streamer.name} goes out at {at:%H:%M} UTC (in {minutes} min)."
    )
