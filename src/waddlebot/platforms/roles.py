"""What each platform says about a person, as WaddleBot's platform roles.

Collectors call these when they translate a payload; the router turns the roles into a
permission level (see :mod:`waddlebot.core.permissions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from waddlebot.core.permissions import Level, PlatformRole

# Twitch chat badges (EventSub channel.chat.message "badges", IRC "badges" tag)
_TWITCH_BADGES: dict[str, PlatformRole] = {
    "broadcaster": PlatformRole.OWNER,
    "lead_moderator": PlatformRole.MODERATOR,
    "moderator": PlatformRole.MODERATOR,
    "vip": PlatformRole.VIP,
    "subscriber": PlatformRole.SUBSCRIBER,
    "founder": PlatformRole.SUBSCRIBER,
}

# Discord permission bits (a member's computed permissions, a decimal string in payloads)
DISCORD_ADMINISTRATOR = 1 << 3
DISCORD_MANAGE_GUILD = 1 << 5
DISCORD_KICK_MEMBERS = 1 << 1
DISCORD_BAN_MEMBERS = 1 << 2
DISCORD_MANAGE_MESSAGES = 1 << 13
DISCORD_MODERATE_MEMBERS = 1 << 40

_LEVEL_ROLES: dict[Level, PlatformRole] = {
    Level.OWNER: PlatformRole.OWNER,
    Level.ADMIN: PlatformRole.ADMIN,
    Level.MODERATOR: PlatformRole.MODERATOR,
    Level.VIP: PlatformRole.VIP,
    Level.SUBSCRIBER: PlatformRole.SUBSCRIBER,
    Level.FOLLOWER: PlatformRole.FOLLOWER,
}


_RANK = {role: rank for rank, role in enumerate(PlatformRole)}


def _ordered(roles: set[PlatformRole]) -> tuple[PlatformRole, ...]:
    """In the enum's order, so the same roles make the same (frozen, compared) author."""
    if len(roles) < 2:
        return tuple(roles)
    return tuple(sorted(roles, key=_RANK.__getitem__))


def twitch_roles(
    badges: Iterable[Mapping[str, object]], *, follower: bool = False
) -> tuple[PlatformRole, ...]:
    """From Twitch badges (``[{"set_id": "moderator", ...}]``). A plain loop rather than
    generators: this runs on every chat line."""
    roles: set[PlatformRole] = set()
    for badge in badges:
        role = _TWITCH_BADGES.get(str(badge.get("set_id", "")))
        if role is not None:
            roles.add(role)
    if follower:
        roles.add(PlatformRole.FOLLOWER)
    return _ordered(roles)


def discord_roles(
    *,
    guild_owner: bool,
    permissions: int | str,
    role_ids: Iterable[str] = (),
    role_levels: Mapping[str, int] | None = None,
) -> tuple[PlatformRole, ...]:
    """From a Discord member: the guild owner is owner; Administrator or Manage Server is
    admin; the moderation permissions are moderator; and a community may map its own
    Discord roles to levels (``role_levels``: Discord role id → level)."""
    bits = int(permissions)
    roles: set[PlatformRole] = set()
    if guild_owner:
        roles.add(PlatformRole.OWNER)
    if bits & (DISCORD_ADMINISTRATOR | DISCORD_MANAGE_GUILD):
        roles.add(PlatformRole.ADMIN)
    moderation = (
        DISCORD_KICK_MEMBERS
        | DISCORD_BAN_MEMBERS
        | DISCORD_MANAGE_MESSAGES
        | DISCORD_MODERATE_MEMBERS
    )
    if bits & moderation:
        roles.add(PlatformRole.MODERATOR)
    for role_id in role_ids:
        level = (role_levels or {}).get(role_id)
        role = _LEVEL_ROLES.get(Level.parse(level)) if level is not None else None
        if role is not None:  # a role mapped to "everyone" grants nothing
            roles.add(role)
    return _ordered(roles)


def slack_roles(
    *, is_primary_owner: bool = False, is_owner: bool = False, is_admin: bool = False
) -> tuple[PlatformRole, ...]:
    """From a Slack user object: workspace owners are owner, workspace admins admin."""
    roles: set[PlatformRole] = set()
    if is_primary_owner or is_owner:
        roles.add(PlatformRole.OWNER)
    if is_admin:
        roles.add(PlatformRole.ADMIN)
    return _ordered(roles)
