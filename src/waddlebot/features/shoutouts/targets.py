"""Whose Twitch a name means: on Twitch, the login typed; elsewhere, the Twitch account linked
to the person named (identity linking), else the name taken as a Twitch login."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from waddlebot.features.identity.service import IdentityService

FindTwitchName = Callable[[str, str], Awaitable[str]]


def twitch_names(identity: IdentityService) -> FindTwitchName:
    async def find(platform: str, given: str) -> str:
        name = given.strip().lstrip("@")
        if platform == "twitch":
            return name
        mention = name.removeprefix("<@").removeprefix("!").removesuffix(">")  # Discord
        found = await identity.find(platform, mention)
        if found is not None:
            for linked in await identity.identities(found[0]):
                if linked.platform == "twitch" and linked.login:
                    return linked.login
        return name

    return find
