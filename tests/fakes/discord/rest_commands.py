"""Application commands, global and per guild: list, bulk overwrite, create (an upsert by name
and type), get, edit and delete, with Discord's validation of names, descriptions and options.
A bulk overwrite keeps the id of every command whose name and type it keeps, as Discord does.

The 50035 error trees follow Discord's shape; their inner ``code`` strings are close to, not
copied from, Discord's."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from . import wire
from .model import Command, DiscordState, Registration
from .rest import Call, RestApi, no_content, ok

CHAT_INPUT, USER, MESSAGE = 1, 2, 3
MAX_COMMANDS = 100  # chat input commands per scope (user and message commands: 15 each)
MAX_OPTIONS = 25
NAME = re.compile(r"^[-_'\w]{1,32}$")
OPTION_TYPES = set(range(1, 12))
SUBCOMMAND, SUBCOMMAND_GROUP = 1, 2


def _name_errors(path: str, name: Any, *, chat_input: bool) -> list[dict[str, Any]]:
    if not isinstance(name, str) or not name:
        return [wire.field_errors(f"{path}name", "BASE_TYPE_REQUIRED", "This field is required")]
    if not 1 <= len(name) <= 32:
        return [
            wire.field_errors(
                f"{path}name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length."
            )
        ]
    if chat_input and (not NAME.match(name) or name != name.lower()):
        return [
            wire.field_errors(
                f"{path}name",
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid",
            )
        ]
    return []


def _description_errors(path: str, description: Any, *, chat_input: bool) -> list[dict[str, Any]]:
    text = description if isinstance(description, str) else ""
    if chat_input and not 1 <= len(text) <= 100:
        return [
            wire.field_errors(
                f"{path}description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        ]
    if not chat_input and text:
        return [
            wire.field_errors(
                f"{path}description",
                "APPLICATION_COMMAND_INVALID_DESCRIPTION",
                "Context menu commands cannot have description",
            )
        ]
    return []


def _option_errors(path: str, options: Any) -> list[dict[str, Any]]:
    if options is None:
        return []
    if not isinstance(options, list):
        return [wire.field_errors(path.rstrip("."), "LIST_TYPE_CONVERT", "Must be an array.")]
    errors: list[dict[str, Any]] = []
    if len(options) > MAX_OPTIONS:
        errors.append(
            wire.field_errors(
                path.rstrip("."),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_OPTIONS} or fewer in length.",
            )
        )
    seen_optional = False
    names: set[str] = set()
    for index, option in enumerate(options):
        here = f"{path}{index}."
        if not isinstance(option, dict):
            errors.append(
                wire.field_errors(here.rstrip("."), "DICT_TYPE_CONVERT", "Must be an object.")
            )
            continue
        if option.get("type") not in OPTION_TYPES:
            errors.append(
                wire.field_errors(
                    f"{here}type", "BASE_TYPE_CHOICES", "Value must be one of (1..11)."
                )
            )
        errors += _name_errors(here, option.get("name"), chat_input=True)
        errors += _description_errors(here, option.get("description"), chat_input=True)
        if option.get("name") in names:
            errors.append(
                wire.field_errors(
                    f"{here}name",
                    "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                    "Option names must be unique",
                )
            )
        names.add(str(option.get("name")))
        if option.get("type") in (SUBCOMMAND, SUBCOMMAND_GROUP):
            errors += _option_errors(f"{here}options.", option.get("options"))
            continue
        if option.get("required"):
            if seen_optional:
                errors.append(
                    wire.field_errors(
                        f"{here}required",
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                )
        else:
            seen_optional = True
    return errors


def command_errors(body: Any, path: str = "") -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return [wire.field_errors(path.rstrip("."), "DICT_TYPE_CONVERT", "Must be an object.")]
    type_ = body.get("type", CHAT_INPUT)
    if type_ not in (CHAT_INPUT, USER, MESSAGE, 4):
        return [
            wire.field_errors(
                f"{path}type", "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4)."
            )
        ]
    chat_input = type_ == CHAT_INPUT
    errors = _name_errors(path, body.get("name"), chat_input=chat_input)
    errors += _description_errors(path, body.get("description", ""), chat_input=chat_input)
    errors += _option_errors(f"{path}options.", body.get("options"))
    return errors


class CommandsApi:
    def __init__(self, state: DiscordState) -> None:
        self.state = state

    def register(self, api: RestApi) -> None:
        for base in (
            "/applications/{application_id}/commands",
            "/applications/{application_id}/guilds/{guild_id}/commands",
        ):
            api.add("GET", base, self.list)
            api.add("PUT", base, self.bulk_overwrite)
            api.add("POST", base, self.create)
            api.add("GET", base + "/{command_id}", self.get)
            api.add("PATCH", base + "/{command_id}", self.edit)
            api.add("DELETE", base + "/{command_id}", self.delete)

    def _scope(self, call: Call) -> tuple[str | None, Response | None]:
        if call.params["application_id"] != self.state.application.id:
            return None, wire.discord_error(
                403, "You are not authorized to perform this action on this application", 20012
            )
        guild_id = call.params.get("guild_id")
        if guild_id is not None:
            guild = self.state.guilds.get(guild_id)
            if guild is None or self.state.bot.id not in guild.members:
                return None, wire.discord_error(403, "Missing Access", wire.MISSING_ACCESS)
        return guild_id, None

    def _log(self, call: Call, guild_id: str | None, body: Any, status: int) -> None:
        self.state.registrations.append(
            Registration(call.request.method, guild_id, body, status, self.state.clock())
        )

    def _make(
        self, body: dict[str, Any], guild_id: str | None, existing: Command | None
    ) -> Command:
        known = {
            "type",
            "name",
            "description",
            "options",
            "default_member_permissions",
            "contexts",
            "integration_types",
            "nsfw",
        }
        permissions = body.get("default_member_permissions")
        return Command(
            id=existing.id if existing else wire.snowflake(self.state.clock()),
            application_id=self.state.application.id,
            name=body["name"],
            type=body.get("type", CHAT_INPUT),
            description=body.get("description", ""),
            options=list(body.get("options") or []),
            guild_id=guild_id,
            default_member_permissions=None if permissions is None else str(permissions),
            contexts=body.get("contexts"),
            integration_types=body.get("integration_types"),
            nsfw=bool(body.get("nsfw")),
            version=wire.snowflake(self.state.clock()),
            extra={
                k: v
                for k, v in body.items()
                if k not in known and k not in {"id", "application_id", "version", "guild_id"}
            },
        )

    def _same(self, guild_id: str | None, name: str, type_: int) -> Command | None:
        return next(
            (c for c in self.state.commands_in(guild_id) if c.name == name and c.type == type_),
            None,
        )

    async def list(self, call: Call) -> Response:
        guild_id, refused = self._scope(call)
        if refused is not None:
            return refused
        return ok([c.payload() for c in self.state.commands_in(guild_id)])

    async def bulk_overwrite(self, call: Call) -> Response:
        guild_id, refused = self._scope(call)
        if refused is not None:
            return refused
        body = call.json()
        if not isinstance(body, list):
            self._log(call, guild_id, body, 400)
            return wire.invalid_form_body(
                wire.field_errors("", "LIST_TYPE_CONVERT", "Must be an array.")
            )
        errors = [e for i, item in enumerate(body) for e in command_errors(item, f"{i}.")]
        keys = [(c.get("name"), c.get("type", CHAT_INPUT)) for c in body if isinstance(c, dict)]
        if len(set(keys)) != len(keys):
            errors.append(
                wire.field_errors(
                    "",
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            )
        if errors:
            self._log(call, guild_id, body, 400)
            return wire.invalid_form_body(wire.merge_errors(*errors))
        if sum(1 for _, t in keys if t == CHAT_INPUT) > MAX_COMMANDS:
            self._log(call, guild_id, body, 400)
            return wire.discord_error(
                400, "Maximum number of application commands reached (100)", 30032
            )
        kept = []
        for item in body:
            existing = self._same(guild_id, item["name"], item.get("type", CHAT_INPUT))
            kept.append(self._make(item, guild_id, existing))
        for command in self.state.commands_in(guild_id):
            del self.state.commands[command.id]
        for command in kept:
            self.state.commands[command.id] = command
        self._log(call, guild_id, body, 200)
        return ok([c.payload() for c in kept])

    async def create(self, call: Call) -> Response:
        guild_id, refused = self._scope(call)
        if refused is not None:
            return refused
        body = call.json()
        errors = command_errors(body)
        if errors:
            self._log(call, guild_id, body, 400)
            return wire.invalid_form_body(wire.merge_errors(*errors))
        existing = self._same(guild_id, body["name"], body.get("type", CHAT_INPUT))
        command = self._make(body, guild_id, existing)
        self.state.commands[command.id] = command
        status = 200 if existing else 201
        self._log(call, guild_id, body, status)
        return ok(command.payload(), status)

    def _command(self, call: Call, guild_id: str | None) -> Command | None:
        command = self.state.commands.get(call.params["command_id"])
        if command is None or command.guild_id != guild_id:
            return None
        return command

    async def get(self, call: Call) -> Response:
        guild_id, refused = self._scope(call)
        if refused is not None:
            return refused
        command = self._command(call, guild_id)
        if command is None:
            return wire.discord_error(
                404, "Unknown application command", wire.UNKNOWN_APPLICATION_COMMAND
            )
        return ok(command.payload())

    async def edit(self, call: Call) -> Response:
        guild_id, refused = self._scope(call)
        if refused is not None:
            return refused
        command = self._command(call, guild_id)
        if command is None:
            return wire.discord_error(
                404, "Unknown application command", wire.UNKNOWN_APPLICATION_COMMAND
            )
        body = call.json_object()
        current = {
            "type": command.type,
            "name": command.name,
            "description": command.description,
            "options": command.options,
            "default_member_permissions": command.default_member_permissions,
            "contexts": command.contexts,
            "integration_types": command.integration_types,
            "nsfw": command.nsfw,
            **command.extra,
        }
        merged = {**current, **body}
        errors = command_errors(merged)
        if errors:
            self._log(call, guild_id, body, 400)
            return wire.invalid_form_body(wire.merge_errors(*errors))
        updated = self._make(merged, guild_id, command)
        self.state.commands[command.id] = updated
        self._log(call, guild_id, body, 200)
        return ok(updated.payload())

    async def delete(self, call: Call) -> Response:
        guild_id, refused = self._scope(call)
        if refused is not None:
            return refused
        command = self._command(call, guild_id)
        if command is None:
            return wire.discord_error(
                404, "Unknown application command", wire.UNKNOWN_APPLICATION_COMMAND
            )
        del self.state.commands[command.id]
        self._log(call, guild_id, None, 204)
        return no_content()
