from __future__ import annotations

from collections.abc import Collection
from typing import cast

from waddlebot.core.events import Platform
from waddlebot.features.identity.service import (
    IdentityError,
    IdentityInfo,
    IdentityService,
    PendingLink,
)
from waddlebot.features.identity.signin_links import LINK_SECONDS, SignInLinks
from waddlebot.platforms import NAMES
from waddlebot.sdk import ArgSpec, Context, Module, UsageError

LINK_USAGE = (
    "link <platform> <username> | resend | unlink <platform> | apikey create [name] | "
    "apikey list | apikey revoke <name>"
)


# where a one-time sign-in link opens, under the portal's base URL (src/waddlebot/portal)
LINK_PATH = "/login/link/"


def build_identity_module(
    identity: IdentityService,
    direct_message_platforms: Collection[str],
    links: SignInLinks,
    portal_url: str,
) -> Module:
    """``direct_message_platforms``: where a collector can deliver a private message;
    ``portal_url``: the portal's base URL, for the links ``!portal`` sends."""
    module = Module("identity", version="1.0.0", description="One person across platforms")

    def user_of(ctx: Context) -> int:
        caller = ctx.request.caller
        if caller is None or caller.user_id is None:
            raise UsageError("I don't know who you are here")
        return caller.user_id

    def send_code(ctx: Context, pending: PendingLink) -> None:
        asker = ctx.caller_name
        ctx.direct(
            f"{asker} on {ctx.request.platform} wants to link your accounts. If that is you, "
            f"type !verify {pending.code} here within 10 minutes. If not, ignore this.",
            to_user=pending.platform_user_id,
            platform=cast(Platform, pending.platform),
        )
        ctx.reply(
            f"I sent a code to your {pending.platform} account by private message. Type "
            f"!verify <code> there within 10 minutes."
        )

    @module.command(
        "identity",
        usage=LINK_USAGE,
        description="Links your accounts on several platforms into one",
        args=(
            ArgSpec(name="action", description="link, resend or unlink", required=True),
            ArgSpec(name="platform", description=", ".join(NAMES)),
            ArgSpec(name="username", description="your name on that platform"),
        ),
    )
    async def identity_(ctx: Context) -> None:
        action = ctx.args[0].lower() if ctx.args else ""
        try:
            if action == "link":
                await link(ctx)
            elif action == "resend":
                send_code(ctx, await identity.resend(user_of(ctx)))
            elif action == "unlink":
                await unlink(ctx)
            elif action == "apikey":
                await api_key(ctx)
            else:
                raise UsageError("say what to do: link, resend, unlink or apikey")
        except IdentityError as exc:
            ctx.reply(f"@{ctx.caller_name}, {exc}.")

    async def link(ctx: Context) -> None:
        if len(ctx.args) != 3:
            raise UsageError("name the platform and your username there")
        platform, name = ctx.args[1].lower(), ctx.args[2]
        if platform not in NAMES:
            raise UsageError(f"the platform is one of {', '.join(NAMES)}")
        if platform == ctx.request.platform:
            raise IdentityError(f"you are on {platform} already; run this on another platform")
        if platform not in direct_message_platforms:
            raise IdentityError(
                f"WaddleBot cannot send private messages on {platform} yet (its collector is "
                "not set up here), so it cannot send you a code there"
            )
        found = await identity.find_or_greet(platform, name)
        if found is None:
            raise IdentityError(
                f"I haven't seen {name} on {platform} yet: say something where WaddleBot "
                "listens there first, then try again"
            )
        target_user, account = found
        if target_user == user_of(ctx):
            raise IdentityError(f"{account.name} on {platform} is linked to you already")
        send_code(ctx, await identity.start_link(user_of(ctx), platform, account.platform_user_id))

    async def api_key(ctx: Context) -> None:
        what = ctx.args[1].lower() if len(ctx.args) > 1 else ""
        user_id = user_of(ctx)
        if what == "create":
            if ctx.request.platform not in direct_message_platforms:
                raise IdentityError(
                    f"WaddleBot cannot send private messages on {ctx.request.platform} yet, and "
                    "a key must not be shown in the channel: ask on another platform"
                )
            name = " ".join(ctx.args[2:]) or "chat"
            try:
                info, key = await identity.create_key(user_id, name)
            except ValueError as exc:
                raise IdentityError(str(exc)) from exc
            until = info.expires_at.date().isoformat() if info.expires_at else "never"
            ctx.direct(
                f"Your API key {info.name!r}: {key} - shown this once; it works until {until}. "
                "Send it as 'Authorization: Bearer <key>'."
            )
            ctx.reply("I sent you the new key by private message.")
        elif what == "list":
            keys = await identity.keys(user_id)
            listed = ", ".join(
                f"{k.name} (until {k.expires_at.date().isoformat() if k.expires_at else 'never'})"
                for k in keys
            )
            ctx.reply(f"Your API keys: {listed}." if keys else "You have no API keys.")
        elif what == "revoke" and len(ctx.args) > 2:
            name = " ".join(ctx.args[2:])
            if not await identity.revoke_key(user_id, name):
                raise IdentityError(f"you have no key named {name!r}")
            ctx.reply(f"Revoked your key {name!r}.")
        else:
            raise UsageError("apikey create [name], apikey list or apikey revoke <name>")

    async def unlink(ctx: Context) -> None:
        if len(ctx.args) != 2:
            raise UsageError("name the platform to unlink")
        gone = await identity.unlink(user_of(ctx), ctx.args[1].lower())
        ctx.reply(f"Unlinked {gone.name} on {gone.platform}.")

    @module.command(
        "verify",
        usage="<code>",
        description="Confirms a link with the code you got by private message",
        args=(ArgSpec(name="code", required=True),),
    )
    async def verify(ctx: Context) -> None:
        caller = ctx.request.caller
        if len(ctx.args) != 1 or caller is None:
            raise UsageError("type the code you got by private message")
        try:
            user_id = await identity.verify(
                ctx.request.platform, caller.identity.user_id, ctx.args[0]
            )
        except IdentityError as exc:
            ctx.reply(f"@{ctx.caller_name}, {exc}.")
            return
        ctx.reply(f"Linked! You are {describe(await identity.identities(user_id))}.")

    @module.command(
        "portal", description="Sends you a one-time link that signs you in to the portal"
    )
    async def portal(ctx: Context) -> None:
        user_id = user_of(ctx)
        if ctx.request.platform not in direct_message_platforms:
            ctx.reply(
                f"@{ctx.caller_name}, WaddleBot cannot send private messages on "
                f"{ctx.request.platform}, and a sign-in link must not be shown in the channel: "
                "type !portal on another platform, or sign in with your email and password."
            )
            return
        token = await links.issue(user_id)
        ctx.direct(
            f"Sign in to the WaddleBot portal: {portal_url}{LINK_PATH}{token} - it works once, "
            f"within {LINK_SECONDS // 60} minutes. If you did not ask for it, ignore it."
        )
        ctx.reply(f"@{ctx.caller_name}, I sent you a sign-in link by private message.")

    @module.command("whoami", description="Shows the accounts WaddleBot knows as you")
    async def whoami(ctx: Context) -> None:
        accounts = await identity.identities(user_of(ctx))
        ctx.reply(f"@{ctx.caller_name}, you are {describe(accounts)}.")

    return module


def describe(accounts: list[IdentityInfo]) -> str:
    return ", ".join(f"{a.name} on {a.platform}" for a in accounts) or "nobody yet"
