"""The built-in ``overlay`` module: the community's OBS browser-source URLs (``!overlay url``,
``!overlay rotate``; the owner's, by private message), a sample on each page to set the scene
up (``!overlay test``), emptying a page (``!overlay clear``), and an alert on the alerts page
for every follow, sub, gift, cheer, raid and boost, from any platform."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from waddlebot.core.contract import ModuleRequest
from waddlebot.core.events import EventType
from waddlebot.core.overlay import IMAGE_ID, PAGES, SOUND_ID
from waddlebot.core.permissions import Level
from waddlebot.core.variables import truncate
from waddlebot.features.overlay.samples import MAX_NAME, sample
from waddlebot.features.overlay.tokens import OverlayTokens, TokenError, overlay_url
from waddlebot.sdk import Context, Module, UsageError
from waddlebot.sdk.subcommand import add_subcommands

USAGE = "url [kind] | rotate | test [kind] | test alerts <media id>... | clear [kind]"
KINDS = ", ".join(PAGES)
ALERTS: dict[EventType, str] = {
    EventType.FOLLOW: "follow",
    EventType.SUBSCRIBE: "subscribe",
    EventType.GIFT_SUBSCRIBE: "gift_subscribe",
    EventType.CHEER: "cheer",
    EventType.RAID: "raid",
    EventType.BOOST: "boost",
}
MESSAGE_EVENTS = frozenset({EventType.SUBSCRIBE, EventType.CHEER})  # their text is the viewer's
MAX_MESSAGE = 500


def build_overlay_module(
    tokens: OverlayTokens, *, base_url: str, direct_message_platforms: Collection[str]
) -> Module:
    """``base_url``: where OBS reaches the browser-source service; ``direct_message_platforms``:
    where a collector can deliver a private message (the URLs are secret)."""
    module = Module(
        "overlay", version="1.0.0", description="Live overlays for OBS: URLs, tests and alerts"
    )

    def can_whisper(ctx: Context) -> bool:
        return ctx.request.platform in direct_message_platforms

    def owner_only(ctx: Context, doing: str) -> bool:
        if ctx.caller_level >= Level.OWNER:
            return True
        ctx.reply(f"Only the owner can {doing}: they let anyone put things on the stream.")
        return False

    def urls(token: str, kinds: Collection[str]) -> str:
        return " | ".join(f"{kind}: {overlay_url(base_url, token, kind)}" for kind in kinds)

    async def token(ctx: Context, of: Callable[..., Awaitable[str]], doing: str) -> str | None:
        """The community's token from ``of`` (``current`` or ``rotate``); None when that
        failed, and the caller has been told they can't do what they asked."""
        try:
            return await of(
                ctx.request.community_id, actor=ctx.actor, session_id=ctx.request.session_id
            )
        except TokenError as exc:
            ctx.reply(f"I can't {doing}: {exc}.")
            return None

    async def url(ctx: Context) -> None:
        kinds = _kinds(ctx, max_args=1)
        if not owner_only(ctx, "see the overlay URLs"):
            return
        if not can_whisper(ctx):
            ctx.reply(
                f"Overlay URLs are secret and I can't send private messages on "
                f"{ctx.request.platform} yet: ask where I can (like the console)."
            )
            return
        current = await token(ctx, tokens.current, "show the overlay URLs")
        if current is None:
            return
        ctx.direct(
            "Add each as a Browser source in OBS (1920x1080), and keep them secret - "
            f"!overlay rotate replaces them. {urls(current, kinds)}"
        )
        acknowledge(ctx, "I sent you the overlay URLs by private message.")

    async def rotate(ctx: Context) -> None:
        _kinds(ctx, max_args=0)
        if not owner_only(ctx, "replace the overlay URLs"):
            return
        fresh = await token(ctx, tokens.rotate, "replace the overlay URLs")
        if fresh is None:
            return
        done = "Overlay URLs replaced: the old ones stopped working."
        if can_whisper(ctx):
            ctx.direct(f"The new overlay URLs: {urls(fresh, PAGES)}")
            acknowledge(ctx, f"{done} I sent you the new ones by private message.")
        else:
            ctx.reply(f"{done} Ask for the new ones with !overlay url where I can whisper you.")

    async def test(ctx: Context) -> None:
        if ctx.args[1:2] == ["alerts"] and len(ctx.args) > 2:
            ctx.overlay.show("alerts", _sample_with_media(ctx.caller_name, ctx.args[2:]))
            ctx.reply("Sent a test to the alerts overlay.")
            return
        kinds = _kinds(ctx, max_args=1)
        for kind in kinds:
            ctx.overlay.show(kind, sample(kind, ctx.caller_name))
        ctx.reply(f"Sent a test to the {_named(kinds)} overlay{'s' if len(kinds) > 1 else ''}.")

    async def clear(ctx: Context) -> None:
        kinds = _kinds(ctx, max_args=1)
        for kind in kinds:
            ctx.overlay.clear(kind)
        ctx.reply(f"Cleared the {_named(kinds)} overlay{'s' if len(kinds) > 1 else ''}.")

    handlers: dict[str, Callable[[Context], Awaitable[None]]] = {
        "url": url,
        "rotate": rotate,
        "test": test,
        "clear": clear,
    }

    add_subcommands(
        module,
        "overlay",
        handlers,
        lambda ctx: ctx,
        usage=USAGE,
        level=int(Level.MODERATOR),
        description="OBS overlays: their URLs (owner, privately), a test, or clearing a page",
    )

    @module.on(*ALERTS)
    async def alert(ctx: Context) -> None:
        ctx.overlay.show("alerts", alert_payload(ctx.request))

    return module


def alert_payload(request: ModuleRequest) -> dict[str, Any]:
    """The alert for a follow, sub, cheer, raid... as the alerts page shows it."""
    caller, amounts = request.caller, request.amounts
    payload: dict[str, Any] = {
        "kind": ALERTS[request.event_type],
        "name": truncate(caller.name, MAX_NAME) if caller else "",
        "platform": request.platform,
    }
    if request.event_type in MESSAGE_EVENTS and request.raw_text.strip():
        payload["message"] = truncate(request.raw_text.strip(), MAX_MESSAGE)
    for field in ("bits", "months", "viewers", "count", "tier"):
        value = getattr(amounts, field)
        if value is not None:
            payload[field] = value
    return payload


def acknowledge(ctx: Context, text: str) -> None:
    """Say in the channel that a private message went out (not when asked in private)."""
    if ctx.request.event_type is not EventType.WHISPER:
        ctx.reply(text)


def _kinds(ctx: Context, *, max_args: int) -> tuple[str, ...]:
    """The page kind named after the subcommand, or every kind."""
    given = ctx.args[1:]
    if len(given) > max_args:
        raise UsageError(
            "that takes nothing more" if max_args == 0 else f"name one kind at most: {KINDS}"
        )
    if not given:
        return PAGES
    kind = given[0].lower()
    if kind not in PAGES:
        raise UsageError(f"there is no {kind!r} overlay; the kinds are {KINDS}")
    return (kind,)


def _named(kinds: Collection[str]) -> str:
    return ", ".join(kinds) if len(kinds) < len(PAGES) else "ticker, media, alerts and general"


def _sample_with_media(name: str, media_ids: list[str]) -> dict[str, Any]:
    """``!overlay test alerts <media id>...``: the sample alert with the community's uploaded
    image and/or sound (media ids as the API gave them)."""
    alert = sample("alerts", name)
    if len(media_ids) > 2:
        raise UsageError("name an image and a sound at most")
    for media_id in media_ids:
        if re.fullmatch(IMAGE_ID, media_id):
            alert["image"] = media_id
        elif re.fullmatch(SOUND_ID, media_id):
            alert["sound"] = media_id
        else:
            raise UsageError(
                f"{media_id!r} is not a media id: upload an image or a sound through the API "
                "(POST /api/v1/overlay/communities/<id>/media) and use the media_id it gives"
            )
    return alert
