from __future__ import annotations

from collections.abc import Awaitable, Callable

from waddlebot import platforms
from waddlebot.core.events import PLATFORMS
from waddlebot.core.permissions import Level
from waddlebot.features.community.service import (
    CommunityError,
    CommunityInfo,
    CommunityService,
    RoleRefused,
)
from waddlebot.sdk import (
    Context,
    FindUser,
    Module,
    UsageError,
    joined,
    subcommand_args,
)
from waddlebot.sdk.subcommand import MentioningCall, add_subcommands, nothing_after, reply_list

COMMUNITY_SUBCOMMANDS = ("rename", "link", "join", "unlink", "rolelevel", "timezone")
COMMUNITY_USAGE = (
    "[rename <name> | link <platform> | join <code> | unlink <place> | "
    "rolelevel <@role> <level|none> | timezone [zone]]"
)
ROLE_SUBCOMMANDS = ("list", "add", "remove")
ROLE_USAGE = "list | add <user> <moderator|admin> | remove <user> [moderator|admin]"

_ROLE_NAMES = {
    "moderator": "moderator",
    "moderators": "moderator",
    "mod": "moderator",
    "mods": "moderator",
    "admin": "admin",
    "admins": "admin",
}
_ARTICLE = {"moderator": "a moderator", "admin": "an admin", "owner": "the owner"}


def build_community_module(service: CommunityService, find_user: FindUser) -> Module:
    """``find_user`` resolves a ``@mention`` or login on the caller's platform to a user."""
    module = Module(
        "community", version="1.0.0", description="The community: its places, name and roles"
    )

    add_subcommands(
        module,
        "community",
        _COMMUNITY_HANDLERS,
        lambda ctx: _Call(ctx, service, find_user),
        refusals=(CommunityError,),
        explain=_explain,
        default=("info", _info),
        usage=COMMUNITY_USAGE,
        description="Shows this community; its owner links and unlinks places",
        args=subcommand_args(COMMUNITY_SUBCOMMANDS, required=False),
    )
    add_subcommands(
        module,
        "role",
        _ROLE_HANDLERS,
        lambda ctx: _Call(ctx, service, find_user),
        refusals=(CommunityError,),
        explain=_explain,
        usage=ROLE_USAGE,
        description="Lists the community's roles; admins give and take them",
        args=subcommand_args(ROLE_SUBCOMMANDS),
    )
    return module


class _Call(MentioningCall):
    """One ``!community`` or ``!role`` invocation: the context, the service and helpers."""

    def __init__(self, ctx: Context, service: CommunityService, find_user: FindUser) -> None:
        super().__init__(ctx, find_user)
        self.service = service


async def _explain(call: _Call, refused: Exception) -> str:
    """A refused role change as it is; anything else about the community, to the caller."""
    if isinstance(refused, RoleRefused):
        return str(refused)
    return f"@{call.ctx.caller_name}, {refused}"


# ----- !community ---------------------------------------------------------------------------


async def _info(call: _Call) -> None:
    nothing_after(call.args, "info")
    call.ctx.reply(_described(await call.service.info(call.community_id)))


async def _rename(call: _Call) -> None:
    if not call.permitted(Level.ADMIN, "rename the community"):
        return
    if not call.args:
        raise UsageError(f"give the new name, e.g. {call.prefix}community rename Waddle TV")
    try:
        name = await call.service.rename(call.community_id, " ".join(call.args), call.actor)
    except CommunityError as exc:
        raise UsageError(str(exc)) from exc
    call.ctx.reply(f'The community is now called "{name}".')


async def _link(call: _Call) -> None:
    if not call.permitted(Level.OWNER, "link places to the community"):
        return
    if len(call.args) != 1 or call.args[0].lower() not in PLATFORMS:
        raise UsageError(f"name the platform of the place to add: {', '.join(PLATFORMS)}")
    platform = call.args[0].lower()
    code = await call.service.start_link(call.community_id, platform, call.user_id())
    info = await call.service.info(call.community_id)
    call.ctx.direct(
        f'Your code for adding a {platform} place to "{info.name}" (#{info.id}): {code}. '
        f"The owner of that place types !community join {code} there within 10 minutes. "
        "It works once."
    )
    call.ctx.reply(
        f"@{call.ctx.caller_name}, I sent you a code for adding a {platform} place by private "
        "message. The owner of that place types !community join <code> there within 10 minutes."
    )


async def _join(call: _Call) -> None:
    if not call.permitted(
        Level.OWNER, "move it into another community", who="the owner of this place"
    ):
        return
    if len(call.args) != 1:
        raise UsageError("type the code you got by private message, e.g. !community join ABCD2345")
    request = call.ctx.request
    target, previous = await call.service.join(
        call.args[0], request.entity_id, request.platform, call.actor
    )
    info = await call.service.info(target)
    call.ctx.reply(
        f'This place now belongs to "{info.name}" (#{info.id}). Community #{previous} keeps '
        f"its data. Commands here start with {info.prefix}"
    )


async def _unlink(call: _Call) -> None:
    if not call.permitted(Level.OWNER, "unlink places from the community"):
        return
    if len(call.args) != 1:
        raise UsageError(f"which place? e.g. {call.prefix}community unlink twitch:1337")
    here = call.ctx.request.entity_id
    entity_id = await call.service.entity_of(call.community_id, call.args[0])
    if entity_id is None:
        raise CommunityError(f"{call.args[0]} is not a place of this community")
    # The owner of one place (a broadcaster whose channel joined) is owner level there, but
    # only the community's own owner may send its other places away.
    if entity_id != here:
        role = await call.service.role_of(call.community_id, call.user_id())
        if role != "owner":
            call.ctx.reply(
                "Only the community's owner can unlink its other places; the owner of a place "
                "can unlink that place from inside it."
            )
            return
    info = await call.service.info(call.community_id)
    new_id = await call.service.unlink(call.community_id, entity_id, call.actor)
    call.ctx.reply(
        f'{entity_id} has left "{info.name}" and is a community of its own now (#{new_id}). '
        f'"{info.name}" keeps its data.'
    )


async def _role_level(call: _Call) -> None:
    """``!community rolelevel <@role> <level|none>``, typed in a Discord server."""
    if not call.permitted(Level.ADMIN, "give roles a level"):
        return
    platform, _, rest = call.ctx.request.entity_id.partition(":")
    server = rest.partition(":")[0]
    if platform not in platforms.role_level_platforms() or not server or server == "dm":
        raise UsageError("type it in a Discord server, mentioning one of its roles")
    if len(call.args) != 2:
        raise UsageError(f"e.g. {call.prefix}community rolelevel @Mods moderator")
    role = call.args[0].removeprefix("<@&").removesuffix(">")
    if not role.isdigit():
        raise UsageError("mention the role (@Mods), or give its id")
    given = call.args[1].lower()
    try:
        level = None if given in ("none", "off", "-") else int(Level.parse(given))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    await call.service.set_role_level(
        call.community_id, f"{platform}:{server}", role, level, call.actor
    )
    if level is None:
        call.ctx.reply(f"<@&{role}> gives no level here any more.")
    else:
        call.ctx.reply(f"<@&{role}> now gives {Level.at_least(level).label} level here.")


async def _timezone(call: _Call) -> None:
    """``!community timezone`` shows it (everyone); ``!community timezone <zone>`` sets it."""
    if not call.args:
        zone = await call.service.timezone(call.community_id)
        call.ctx.reply(f"This community's time zone is {zone.key}.")
        return
    if not call.permitted(Level.ADMIN, "set the time zone"):
        return
    if len(call.args) != 1:
        raise UsageError(f"one IANA zone name, e.g. {call.prefix}community timezone Europe/Berlin")
    try:
        zone = await call.service.set_timezone(call.community_id, call.args[0], call.actor)
    except CommunityError as exc:
        raise UsageError(str(exc)) from exc
    call.ctx.reply(f"This community's time zone is now {zone.key}.")


_COMMUNITY_HANDLERS: dict[str, Callable[[_Call], Awaitable[None]]] = {
    "rename": _rename,
    "link": _link,
    "join": _join,
    "unlink": _unlink,
    "rolelevel": _role_level,
    "timezone": _timezone,
}


# ----- !role --------------------------------------------------------------------------------


async def _list(call: _Call) -> None:
    nothing_after(call.args, "list")
    held = await call.service.roles(call.community_id)
    shown = [f"{name} ({role})" for name, role in held]
    reply_list(call.ctx, "Roles", shown, "No one has a role here yet.")


async def _add(call: _Call) -> None:
    if not call.permitted(Level.ADMIN, "give roles"):
        return
    if len(call.args) != 2:
        raise UsageError(f"e.g. {call.prefix}role add @bob moderator")
    wanted = call.args[1].lower()
    if wanted == "owner":
        call.ctx.reply("Nobody can be made owner with !role; ownership is separate.")
        return
    role = _ROLE_NAMES.get(wanted)
    if role is None:
        raise UsageError("the role is moderator or admin")
    if role == "admin" and not call.permitted(Level.OWNER, "make admins"):
        return
    user_id, shown = await call.user(call.args[0])
    if user_id is None:
        return
    try:
        change = await call.service.set_role(
            call.community_id, user_id, role, call.actor, actor_level=call.ctx.caller_level
        )
    except RoleRefused:
        call.ctx.reply("Only the owner can change an admin's role.")
        return
    except CommunityError:
        call.ctx.reply(f"{shown} is the owner; that does not change with !role.")
        return
    if change.changed:
        call.ctx.reply(f"{shown} is now {_ARTICLE[role]} here.")
    else:
        call.ctx.reply(f"{shown} is {_ARTICLE[role]} already.")


async def _remove(call: _Call) -> None:
    if not call.permitted(Level.ADMIN, "take roles away"):
        return
    if len(call.args) not in (1, 2):
        raise UsageError(f"e.g. {call.prefix}role remove @bob moderator")
    named = _ROLE_NAMES.get(call.args[1].lower()) if len(call.args) == 2 else None
    if len(call.args) == 2 and named is None:
        raise UsageError("the role is moderator or admin")
    user_id, shown = await call.user(call.args[0])
    if user_id is None:
        return
    if named is not None and await call.service.role_of(call.community_id, user_id) != named:
        call.ctx.reply(f"{shown} is not {_ARTICLE.get(named, named)} here.")
        return
    try:
        change = await call.service.remove_role(
            call.community_id, user_id, call.actor, actor_level=call.ctx.caller_level
        )
    except RoleRefused:
        call.ctx.reply("Only the owner can take the admin role away.")
        return
    except CommunityError:
        call.ctx.reply(f"{shown} is the owner; that does not change with !role.")
        return
    if not change.changed:
        call.ctx.reply(f"{shown} has no role here.")
        return
    previous = change.previous or "member"
    call.ctx.reply(f"{shown} is no longer {_ARTICLE.get(previous, previous)} here.")


_ROLE_HANDLERS: dict[str, Callable[[_Call], Awaitable[None]]] = {
    "list": _list,
    "add": _add,
    "remove": _remove,
}


# ----- replies ------------------------------------------------------------------------------


def _described(info: CommunityInfo) -> str:
    places = joined(info.entities) or "no places"
    if not info.owners:
        owners = "Owner: none yet"
    elif len(info.owners) == 1:
        owners = f"Owner: {info.owners[0]}"
    else:
        owners = f"Owners: {', '.join(info.owners)}"
    return f'Community "{info.name}" (#{info.id}): {places}. {owners}. Prefix: {info.prefix}'
