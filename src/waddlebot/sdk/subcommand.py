"""What a built-in module's ``!<command> <subcommand> ...`` needs whatever the command (the
``!inventory`` and ``!event`` modules use it): the subcommand and the words after it, who
asks, and whether their level allows what they ask."""

from __future__ import annotations

from waddlebot.core.permissions import Level
from waddlebot.sdk import Context, UsageError


class SubcommandCall:
    """One subcommand: the context, the subcommand (``verb``) and the words after it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.args = ctx.args[1:]
        self.verb = ctx.args[0].lower()
        self.community_id = ctx.request.community_id
        self.prefix = ctx.request.prefix or "!"

    @property
    def me(self) -> str:
        """The caller as a chat mention (their login where the platform has one)."""
        caller = self.ctx.request.caller
        return f"@{caller.identity.login or caller.name}" if caller else "@someone"

    def user_id(self) -> int:
        """The caller's WaddleBot user; UsageError when the platform did not say who it is."""
        caller = self.ctx.request.caller
        if caller is None or caller.user_id is None:
            raise UsageError("I don't know who you are here")
        return caller.user_id

    def allowed(self, doing: str, level: Level = Level.MODERATOR) -> bool:
        """Whether the caller's level is ``level`` or more; if not, they are told so."""
        if self.ctx.caller_level >= level:
            return True
        who = "moderators" if level == Level.MODERATOR else "admins"
        self.ctx.reply(f"Only {who} and up can {doing}.")
        return False
