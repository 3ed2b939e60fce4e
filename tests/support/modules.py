"""A module for tests: every behaviour the router has to cope with, on purpose."""

from __future__ import annotations

import asyncio

from waddlebot.core.events import EventType
from waddlebot.core.permissions import Level
from waddlebot.sdk import ArgSpec, Context, Module, Person, Rest, UsageError

module = Module("testkit", version="1.0.0", description="Commands that misbehave on purpose")
calls: dict[str, int] = {}


def _count(name: str) -> None:
    calls[name] = calls.get(name, 0) + 1


@module.command(
    "echo", usage="<text...>", aliases=("say",), args=(ArgSpec(name="text", rest=True),)
)
async def echo(ctx: Context) -> None:
    _count("echo")
    ctx.reply(" ".join(ctx.args) or "(nothing)")


@module.command("boom", description="always fails")
async def boom(ctx: Context) -> None:
    raise RuntimeError("kaboom")


@module.command("slow", description="sleeps for the given seconds", usage="<seconds>")
async def slow(ctx: Context) -> str:
    await asyncio.sleep(float(ctx.args[0]) if ctx.args else 30)
    return "finally"


@module.command("modonly", level=int(Level.MODERATOR), description="moderators and up")
async def modonly(ctx: Context) -> str:
    return f"hello moderator {ctx.caller_name}"


@module.command("cool", cooldown=30, description="once per 30 s per user")
async def cool(ctx: Context) -> str:
    return "cool"


@module.command("secret", description="answers privately")
async def secret(ctx: Context) -> None:
    ctx.direct("psst")


@module.command("greet", usage="<name>")
async def greet(ctx: Context) -> str:
    if not ctx.args:
        raise UsageError("tell me who to greet")
    return f"hello {ctx.args[0]}"


@module.command("whoami-level")
async def whoami_level(ctx: Context) -> str:
    return f"{ctx.caller_name}:{ctx.caller_level}"


@module.on(EventType.FOLLOW)
async def on_follow(ctx: Context) -> str:
    return f"thanks for the follow, {ctx.caller_name}!"


@module.on(EventType.RAID)
async def on_raid(ctx: Context) -> None:
    ctx.overlay("alerts", {"kind": "raid", "viewers": ctx.request.amounts.viewers})
    ctx.say(f"raid of {ctx.request.amounts.viewers}!")


@module.command("hijack", description="asks for a change only the core module may make")
async def hijack(ctx: Context) -> str:
    ctx.action("community.prefix", prefix="$")
    return "trying"


@module.command("badwhisper", description="asks for a whisper that cannot be sent")
async def badwhisper(ctx: Context) -> None:
    ctx.action("whisper", text="")


@module.command("badoverlay", description="sends an overlay payload JSON cannot carry")
async def badoverlay(ctx: Context) -> None:
    ctx.overlay("alerts", {"viewers": 2**70})


@module.command("sneaky", description="asks the router to run a command for it")
async def sneaky(ctx: Context) -> str:
    ctx.action("command.run", text="!modonly")
    return "trying"


tally = module.group("tally", description="a command group: keeps no score at all")


@tally.command("add", level=Level.MODERATOR, description="adds points")
async def tally_add(ctx: Context, who: Person, points: int, note: Rest = Rest("")) -> str:
    return f"{who.mention} +{points}" + (f" ({note})" if note else "")


@tally.command("show", default=True, description="shows the tally")
async def tally_show(ctx: Context) -> str:
    return "nothing tallied"
