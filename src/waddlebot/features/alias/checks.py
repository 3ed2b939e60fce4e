"""Whether an alias may be defined: the checks ``!alias`` and the portal's Aliases page make
before :meth:`~waddlebot.features.alias.service.AliasService.define` (the service leaves them
to its callers, who know the built-in and custom commands)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from waddlebot.features.alias.service import AliasService

CustomExists = Callable[[int, str], Awaitable[bool]]
"""Whether a community has a custom command of that name."""

UNSHADOWABLE = frozenset({"alias", "unalias"})  # or an alias could never be undone


async def why_refused(
    community_id: int,
    name: str,
    target: str,
    builtin: set[str],
    custom_exists: CustomExists | None,
    service: AliasService,
    forced: bool,
    prefix: str,
) -> str:
    """Why this alias may not be defined; empty when it may."""
    if name in UNSHADOWABLE:
        return f"{prefix}{name} cannot be shadowed by an alias."
    custom = custom_exists is not None and await custom_exists(community_id, name)
    if not forced and name in builtin:
        return (
            f"{prefix}{name} is a built-in command; an admin can shadow it with "
            f"{prefix}alias -f {name}='...'."
        )
    if not forced and custom:
        return (
            f"{prefix}{name} is a custom command here; delete it first, or an admin can "
            f"shadow it with {prefix}alias -f {name}='...'."
        )
    if target == name and name not in builtin:
        return f"{prefix}{name} would run itself."
    if not target or target in builtin:  # no name: a serverless (#) command
        return ""
    if await service.lookup(community_id, target) is not None:
        return ""
    if custom_exists is not None and await custom_exists(community_id, target):
        return ""
    return f"{prefix}{target} is not a command here."
