"""What a module declares about itself: its name, commands (with their arguments, level and
cooldowns) and the event types it listens to. The router routes by it, ``help`` lists it and
the Discord and Slack collectors turn it into slash commands; module authors build it through
:class:`waddlebot.sdk.Module` rather than by hand."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from waddlebot.core.events import EventType
from waddlebot.core.permissions import Level
from waddlebot.core.schedule import ScheduleSpec

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"


class ArgSpec(BaseModel):
    """One argument of a command, used for usage lines and (later) Discord/Slack slash options."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    required: bool = False
    rest: bool = Field(default=False, description="takes the rest of the line")


class CommandSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    usage: str = Field(default="", description="argument part of the usage line")
    level: int = Field(default=int(Level.EVERYONE), ge=0)
    cooldown: float = Field(default=0, ge=0, description="per-user cooldown, seconds")
    global_cooldown: float = Field(default=0, ge=0, description="per-place cooldown, seconds")
    aliases: tuple[str, ...] = ()
    args: tuple[ArgSpec, ...] = ()
    serverless: bool = Field(default=False, description="invoked with '#' instead of '!'")

    def usage_line(self, prefix: str = "!") -> str:
        shown = "#" if self.serverless else prefix
        return f"{shown}{self.name} {self.usage}".rstrip()

    def usage_reply(self, prefix: str, problem: str) -> str:
        """What chat is told when a handler finds the arguments wrong (``usage_error``)."""
        return f"Usage: {self.usage_line(prefix)} ({problem})"

    def denial_reply(self, caller: str, shown: str) -> str:
        """What chat is told when ``caller`` is below the command's level."""
        return f"@{caller}, {shown} is for {Level.at_least(self.level).label} level and up."


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    version: str = "0.1.0"
    description: str = ""
    commands: tuple[CommandSpec, ...] = ()
    events: tuple[EventType, ...] = ()
    config_schema: dict[str, Any] = Field(default_factory=dict, description="JSON Schema")
    schedules: tuple[ScheduleSpec, ...] = Field(
        default=(), description="handlers the router runs on a schedule (kind 'schedule')"
    )
