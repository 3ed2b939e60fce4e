"""Numeric permission levels, so they compare, and the platform roles that map onto them."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Level(IntEnum):
    EVERYONE = 100
    FOLLOWER = 150
    SUBSCRIBER = 250
    VIP = 300
    MODERATOR = 500
    ADMIN = 1000
    OWNER = 1500

    @classmethod
    def parse(cls, name: str | int) -> Level:
        """Accept a level name (``moderator``, ``mod``, ``twitch_vip``...) or a number."""
        if isinstance(name, int) or str(name).isdigit():
            number = int(name)
            fitting = [level for level in cls if level <= number]
            return max(fitting) if fitting else cls.EVERYONE
        key = str(name).strip().lower().replace("-", "_")
        level = _LEVEL_NAMES.get(key)
        if level is None:
            choices = ", ".join(level.name.lower() for level in cls)
            raise ValueError(f"unknown level {name!r}; use one of: {choices}")
        return level

    @classmethod
    def at_least(cls, number: int) -> Level:
        """The lowest named level that reaches ``number`` (for telling people what they
        need: a command at 200 needs a subscriber, not a follower)."""
        reaching = [level for level in cls if level >= number]
        return min(reaching) if reaching else cls.OWNER

    @property
    def label(self) -> str:
        return self.name.lower()


_LEVEL_NAMES: dict[str, Level] = {level.name.lower(): level for level in Level} | {
    "viewer": Level.EVERYONE,
    "all": Level.EVERYONE,
    "follow": Level.FOLLOWER,
    "followers": Level.FOLLOWER,
    "sub": Level.SUBSCRIBER,
    "subs": Level.SUBSCRIBER,
    "regular": Level.VIP,
    "twitch_vip": Level.VIP,
    "mod": Level.MODERATOR,
    "mods": Level.MODERATOR,
    "supermod": Level.ADMIN,
    "broadcaster": Level.OWNER,
    "streamer": Level.OWNER,
}


class PlatformRole(StrEnum):
    """What a platform says about a person in one place; collectors fill these in."""

    OWNER = "owner"  # Twitch broadcaster, Discord guild owner, Slack workspace owner
    ADMIN = "admin"  # Discord administrator / manage server, Slack workspace admin
    MODERATOR = "moderator"
    VIP = "vip"
    SUBSCRIBER = "subscriber"
    FOLLOWER = "follower"


ROLE_LEVELS: dict[PlatformRole, Level] = {
    PlatformRole.OWNER: Level.OWNER,
    PlatformRole.ADMIN: Level.ADMIN,
    PlatformRole.MODERATOR: Level.MODERATOR,
    PlatformRole.VIP: Level.VIP,
    PlatformRole.SUBSCRIBER: Level.SUBSCRIBER,
    PlatformRole.FOLLOWER: Level.FOLLOWER,
}


def level_from_roles(roles: list[PlatformRole] | tuple[PlatformRole, ...]) -> Level:
    """The highest level any of the platform roles grants (everyone when none)."""
    best = Level.EVERYONE
    for role in roles:
        level = ROLE_LEVELS.get(role, Level.EVERYONE)
        if level > best:
            best = level
    return best
