"""A module for the browser tests: puts things on the media and general pages through the
SDK's overlay helpers, the way a song-request or quotes module would."""

from __future__ import annotations

from waddlebot.sdk import ArgSpec, Context, Module

module = Module("showcase", version="1.0.0", description="Overlay updates on demand")


@module.command("np", usage="<title>", args=(ArgSpec(name="title", rest=True),))
async def now_playing(ctx: Context) -> None:
    ctx.overlay.now_playing(
        ctx.rest,
        artist="The Rockhoppers",
        album="Ice Floe Sessions",
        cover="https://covers.invalid/ice-floe.png",
        duration=214,
        position=83,
        requested_by=ctx.caller_name,
        source="youtube",
    )


@module.command("clip", usage="<url>", args=(ArgSpec(name="url", required=True),))
async def clip(ctx: Context) -> None:
    ctx.overlay.clip(
        ctx.args[0], title="Best catch of the day", channel=ctx.caller_name, duration=20
    )


@module.command("embed", usage="<url>", args=(ArgSpec(name="url", required=True),))
async def embed(ctx: Context) -> None:
    ctx.overlay.clip(ctx.args[0], title="A player page", embed=True, duration=20)


@module.command("card", usage="<text>", args=(ArgSpec(name="text", rest=True),))
async def card(ctx: Context) -> None:
    ctx.overlay.card("Quote #4", ctx.rest, duration=0)


@module.command("deaths", usage="<count>", args=(ArgSpec(name="count", required=True),))
async def deaths(ctx: Context) -> None:
    ctx.overlay.card("Deaths today", template="counter", value=ctx.args[0], duration=0)


@module.command("kudos", usage="<name>", args=(ArgSpec(name="name", required=True),))
async def kudos(ctx: Context) -> None:
    ctx.overlay("kudos", {"from": ctx.caller_name, "to": ctx.args[0], "total": 3})
