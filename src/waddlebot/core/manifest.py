"""What a module declares about itself: its name, commands (with their arguments, level and
cooldowns) and the event types it listens to. The router routes by it, ``help`` lists it and
the Discord and Slack collectors turn it into slash commands; module authors build it through
:class:`waddlebot.sdk.Module` rather than by hand."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from waddlebot.core.events import EventType
from waddlebot.core.permissions import Level
from waddlebot.core.schedule import ScheduleSpec

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"

ArgType = Literal["text", "int", "number", "duration", "person", "rest"]
"""What an argument holds: one word, a whole number, a number, a length of time (``10m``), a
person (``@bob``, a platform mention), or the rest of the line."""


class ArgSpec(BaseModel):
    """One argument of a command or subcommand: its usage, its slash option, and (in a command
    group) how it is read."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    required: bool = False
    rest: bool = Field(default=False, description="takes the rest of the line (type rest)")
    type: ArgType = "text"

    @model_validator(mode="before")
    @classmethod
    def _rest_is_a_type(cls, data: Any) -> Any:
        """``rest=True`` and ``type="rest"`` say the same; either sets the other, so a
        manifest written before ``type`` existed reads the same, and older readers of a new
        one still see ``rest``."""
        if isinstance(data, dict):
            if data.get("type") == "rest":
                data = {**data, "rest": True}
            elif data.get("rest") and data.get("type", "text") == "text":
                data = {**data, "type": "rest"}
        return data

    @property
    def placeholder(self) -> str:
        """How a usage line shows it: ``<who>``, ``[reason]``."""
        return f"<{self.name}>" if self.required else f"[{self.name}]"


class SubcommandSpec(BaseModel):
    """One subcommand of a command group (``!kudos give <who> <points>``)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    usage: str = Field(default="", description="argument part after the subcommand's name")
    level: int = Field(default=int(Level.EVERYONE), ge=0)
    args: tuple[ArgSpec, ...] = ()
    default: bool = Field(default=False, description="also run when no subcommand is given")

    @property
    def usage_part(self) -> str:
        """The part of the usage line after the command's name: ``give <who> <points>``."""
        return f"{self.name} {self.usage}".rstrip()


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
    subcommands: tuple[SubcommandSpec, ...] = ()

    def usage_line(self, prefix: str = "!", usage: str | None = None) -> str:
        """``!name usage``; ``usage`` in place of the command's own (a subcommand's)."""
        shown = "#" if self.serverless else prefix
        return f"{shown}{self.name} {self.usage if usage is None else usage}".rstrip()

    def subcommand(self, name: str) -> SubcommandSpec | None:
        return next((sub for sub in self.subcommands if sub.name == name), None)

    def usage_reply(self, prefix: str, problem: str, usage: str | None = None) -> str:
        """What chat is told when a handler finds the arguments wrong (``usage_error``);
        ``usage``: a subcommand's usage in place of the command's (``ModuleResponse.usage``)."""
        return f"Usage: {self.usage_line(prefix, usage)} ({problem})"

    def denial_reply(self, caller: str, shown: str) -> str:
        """What chat is told when ``caller`` is below the command's level."""
        return f"@{caller}, {shown} is for {Level.at_least(self.level).label} level and up."


class Permission(StrEnum):
    """What a module installed from the catalogue may do in a community, granted when an
    admin installs it (and confirmed again when a new version asks for more). Reading events
    is granted by the manifest's ``events``; WaddleBot's own modules need no grants."""

    CHAT_SEND = "chat.send"  # answer and post in the channel
    CHAT_WHISPER = "chat.whisper"  # whisper / DM a person
    OVERLAY = "overlay"  # update the community's OBS overlays


class ChatScope(BaseModel):
    """Which chat lines a module listening to ``chat_message`` is called for, when its
    manifest narrows them: a module called for every line costs the router every line."""

    model_config = ConfigDict(frozen=True)

    to_bot: bool = Field(
        default=True, description="lines addressed to the bot (a mention, a reply), not commands"
    )
    while_set: str = Field(
        default="",
        max_length=64,
        description="and every line in communities where this setting of the module is set "
        "(not empty, not false)",
    )


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    version: str = "0.1.0"
    description: str = ""
    author: str = Field(default="", max_length=200)
    homepage: str = Field(default="", max_length=500, description="an http(s) URL, or empty")
    changelog: str = Field(default="", max_length=20_000, description="what changed, newest first")
    permissions: tuple[Permission, ...] = Field(
        default=(Permission.CHAT_SEND,), description="what it asks to be allowed to do"
    )
    commands: tuple[CommandSpec, ...] = ()
    events: tuple[EventType, ...] = ()
    chat: ChatScope | None = Field(
        default=None,
        description="which chat lines its chat_message listener hears; null: every line",
    )
    config_schema: dict[str, Any] = Field(default_factory=dict, description="JSON Schema")
    schedules: tuple[ScheduleSpec, ...] = Field(
        default=(), description="handlers the router runs on a schedule (kind 'schedule')"
    )
