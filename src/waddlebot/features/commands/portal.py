"""The commands feature's portal pages: a community's custom commands (list, search as one
types, add, edit, delete, the variables reference) for moderators and up, as in chat
(``!addcom`` and friends are for moderators); and importing another bot's export, for admins,
as ``POST /api/v1/commands/communities/{id}/import`` is. Both call the same services as the
chat module and the API; the pages only read the form and render."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from waddlebot.core.errors import Missing, Taken
from waddlebot.core.permissions import Level
from waddlebot.features.commands.importer import (
    SOURCES,
    ImportReport,
    Source,
    import_commands,
    preview_commands,
)
from waddlebot.features.commands.service import (
    MAX_COOLDOWN,
    MAX_RESPONSE,
    Changes,
    CommandInfo,
    CustomCommandError,
    ReservedName,
    check_name,
)
from waddlebot.features.commands.variables import VARIABLES, pieces
from waddlebot.features.labels.service import level_name
from waddlebot.features.shared import Services
from waddlebot.portal.deps import InCommunity, SignedIn
from waddlebot.portal.rendering import render

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_EXPORT = 512 * 1024  # bytes of an uploaded export
SOURCE_NAMES: dict[str, str] = {
    "nightbot": "Nightbot (JSON)",
    "streamelements": "StreamElements (JSON)",
    "phantombot": "PhantomBot (text, one !name response per line)",
}
REASONS = {  # why an import skips a command, in the preview and the report
    "exists": "clashes with one here",
    "reserved": "name in use",
    "duplicate": "twice in the export",
    "invalid": "cannot be read",
}
LEVELS = [(int(level), level.label) for level in Level]

commands_router = APIRouter(include_in_schema=False)
import_router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=4096)]


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    values = {
        "levels": LEVELS,
        "variables": VARIABLES,
        "pieces": pieces,
        "level_label": level_name,
        "max_response": MAX_RESPONSE,
        "max_cooldown": MAX_COOLDOWN,
        **context,
    }
    return render(request, template, values, status_code=status_code, directory=TEMPLATES)


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return text[:1].upper() + text[1:] + "."


def _matching(commands: list[CommandInfo], query: str) -> list[CommandInfo]:
    words = query.lower().removeprefix("!").split()
    return [
        command
        for command in commands
        if all(word in command.name or word in command.response.lower() for word in words)
    ]


async def _list_page(
    request: Request,
    runtime: Services,
    community_id: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    commands = await runtime.commands.list(community_id)
    values: dict[str, Any] = {"commands": commands, "query": "", "errors": {}, "form": {}}
    values.update(context)
    return _page(request, "commands.html", status_code, **values)


@commands_router.get("/c/{community_id}/commands")
async def commands(
    request: Request, community: InCommunity, runtime: Services, q: str = ""
) -> Response:
    commands = _matching(await runtime.commands.list(community.id), q[:100])
    context: dict[str, Any] = {"commands": commands, "query": q[:100], "errors": {}, "form": {}}
    return _page(request, "commands.html", **context)


@commands_router.get("/c/{community_id}/commands/rows")
async def command_rows(
    request: Request, community: InCommunity, runtime: Services, q: str = ""
) -> Response:
    """The rows matching ``q`` (the search box asks as one types)."""
    commands = _matching(await runtime.commands.list(community.id), q[:100])
    return _page(request, "rows.html", commands=commands, query=q[:100])


def _read_changes(form: dict[str, str], errors: dict[str, str], *, enabled: bool | None) -> Changes:
    """The fields of the add or edit form; a field that is not a number is an error."""
    seconds: dict[str, int] = {}
    for key in ("cooldown", "user_cooldown"):
        value = form[key].strip() or "0"
        if not value.isdigit():
            errors["cooldowns"] = "Give cooldowns as whole seconds, 0 for none."
        else:
            seconds[key] = int(value)
    level: int | None = None
    if form["level"].strip().isdigit():
        level = int(form["level"])
    else:
        errors["level"] = "Choose who may use the command."
    return Changes(
        response=form["response"].strip(),
        level=level,
        cooldown=seconds.get("cooldown"),
        user_cooldown=seconds.get("user_cooldown"),
        enabled=enabled,
    )


def _error_field(exc: CustomCommandError) -> str:
    """Which field of the form a service's refusal is about."""
    text = str(exc)
    if isinstance(exc, Taken | Missing | ReservedName | AliasClash) or "command name" in text:
        return "name"
    if "level" in text:
        return "level"
    if "cooldown" in text:
        return "cooldowns"
    return "response"


class AliasClash(CustomCommandError):
    """The name is one of the community's aliases, which would hide the command."""


async def _add(
    runtime: Any, community_id: int, name: str, changes: Changes, actor: str
) -> CommandInfo:
    """Add as ``!addcom`` does: not over a built-in command, nor over an alias."""
    normal = check_name(name)
    if await runtime.aliases.lookup(community_id, normal) is not None:
        raise AliasClash(
            f"!{normal} is an alias here; remove the alias first (!unalias {normal} in chat)"
        )
    info: CommandInfo = await runtime.commands.add(
        community_id, normal, changes, actor=actor, reserved=runtime.registry.declared_names()
    )
    return info


@commands_router.post("/c/{community_id}/commands")
async def add_command(
    request: Request,
    community: InCommunity,
    person: SignedIn,
    runtime: Services,
    name: Text = "",
    response: Text = "",
    level: Text = str(int(Level.EVERYONE)),
    cooldown: Text = "0",
    user_cooldown: Text = "0",
) -> Response:
    form = {
        "name": name,
        "response": response,
        "level": level,
        "cooldown": cooldown,
        "user_cooldown": user_cooldown,
    }
    errors: dict[str, str] = {}
    changes = _read_changes(form, errors, enabled=None)
    if not errors:
        try:
            info = await _add(runtime, community.id, name, changes, person.actor)
        except CustomCommandError as exc:
            errors[_error_field(exc)] = _sentence(exc)
        else:
            return await _list_page(request, runtime, community.id, notice=f"Added !{info.name}.")
    return await _list_page(request, runtime, community.id, 400, errors=errors, form=form)


def _edit_page(request: Request, status_code: int = 200, **context: Any) -> Response:
    values: dict[str, Any] = {"errors": {}}
    values.update(context)
    return _page(request, "edit.html", status_code, **values)


@commands_router.get("/c/{community_id}/commands/edit")
async def edit_form(
    request: Request, community: InCommunity, runtime: Services, name: str = ""
) -> Response:
    info = await runtime.commands.get(community.id, name)
    if info is None:
        message = f"There is no custom command !{name[:40]} here."
        return await _list_page(request, runtime, community.id, 404, notice_error=message)
    form = {
        "name": info.name,
        "response": info.response,
        "level": str(info.level),
        "cooldown": str(info.cooldown),
        "user_cooldown": str(info.user_cooldown),
        "enabled": info.enabled,
    }
    return _edit_page(request, command=info, form=form)


@commands_router.post("/c/{community_id}/commands/edit")
async def edit_command(
    request: Request,
    community: InCommunity,
    person: SignedIn,
    runtime: Services,
    name: Text = "",
    response: Text = "",
    level: Text = "",
    cooldown: Text = "0",
    user_cooldown: Text = "0",
    enabled: Text = "",
) -> Response:
    form: dict[str, Any] = {
        "name": name,
        "response": response,
        "level": level,
        "cooldown": cooldown,
        "user_cooldown": user_cooldown,
        "enabled": enabled == "on",
    }
    info = await runtime.commands.get(community.id, name)
    if info is None:
        message = f"There is no custom command !{name[:40]} here."
        return await _list_page(request, runtime, community.id, 404, notice_error=message)
    errors: dict[str, str] = {}
    changes = _read_changes(form, errors, enabled=enabled == "on")
    if not errors:
        try:
            info = await runtime.commands.edit(community.id, name, changes, actor=person.actor)
        except CustomCommandError as exc:
            errors[_error_field(exc)] = _sentence(exc)
        else:
            return await _list_page(request, runtime, community.id, notice=f"Saved !{info.name}.")
    return _edit_page(request, 400, command=info, form=form, errors=errors)


@commands_router.post("/c/{community_id}/commands/delete")
async def delete_command(
    request: Request, community: InCommunity, person: SignedIn, runtime: Services, name: Text = ""
) -> Response:
    try:
        await runtime.commands.delete(community.id, name, actor=person.actor)
    except CustomCommandError as exc:
        notice, deleted = _sentence(exc), False
    else:
        notice, deleted = f"Deleted !{check_name(name)}.", True
    if request.headers.get("hx-request"):  # the row goes; the rest of the page stays
        return _page(request, "deleted.html", notice=notice, deleted=deleted)
    if deleted:
        return await _list_page(request, runtime, community.id, notice=notice)
    return await _list_page(request, runtime, community.id, 404, notice_error=notice)


# ----- importing (admins) -------------------------------------------------------------------


def _import_page(request: Request, status_code: int = 200, **context: Any) -> Response:
    values: dict[str, Any] = {
        "sources": SOURCE_NAMES,
        "reasons": REASONS,
        "form": {"source": "nightbot", "overwrite": False},
        "errors": {},
        "report": None,
        "preview": None,
        "payload": "",
        "max_kib": MAX_EXPORT // 1024,
    }
    values.update(context)
    return _page(request, "import.html", status_code, **values)


@import_router.get("/c/{community_id}/commands/import")
async def import_form(request: Request, community: InCommunity) -> Response:
    return _import_page(request)


def _source(source: str, errors: dict[str, str]) -> Source | None:
    for known in SOURCES:
        if source == known:
            return known
    errors["source"] = "Choose the bot the export comes from."
    return None


async def _arguments(runtime: Any, community_id: int) -> dict[str, Any]:
    """What an import checks names against, as the API gives it."""
    return {
        "reserved": runtime.registry.declared_names(),
        "aliases": (await runtime.aliases.index([community_id]))[community_id],
    }


async def _shown(
    request: Request,
    form: dict[str, Any],
    errors: dict[str, str],
    run: Callable[[], Awaitable[ImportReport]],
    *,
    shown: str,
    payload: str = "",
) -> Response:
    """The page with the preview or the import's report (``shown``); an export that cannot be
    read at all is the file field's error."""
    if not errors:
        try:
            report = await run()
        except CustomCommandError as exc:
            errors["export"] = _sentence(exc)
        else:
            shown_report: dict[str, Any] = {shown: report}
            return _import_page(request, form=form, payload=payload, **shown_report)
    return _import_page(request, 400, form=form, errors=errors)


@import_router.post("/c/{community_id}/commands/import/preview")
async def import_preview(
    request: Request,
    community: InCommunity,
    runtime: Services,
    export: Annotated[UploadFile | None, File()] = None,
    source: Text = "",
    overwrite: Text = "",
) -> Response:
    """What importing the uploaded export would do, with a button that does it."""
    form: dict[str, Any] = {"source": source, "overwrite": overwrite == "on"}
    errors: dict[str, str] = {}
    kind = _source(source, errors)
    payload = ""
    data = await export.read(MAX_EXPORT + 1) if export is not None else b""
    if not data:
        errors["export"] = "Choose the export file."
    elif len(data) > MAX_EXPORT:
        errors["export"] = f"The file is too large: at most {MAX_EXPORT // 1024} KiB."
    else:
        try:
            payload = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            errors["export"] = "The file is not UTF-8 text: choose the export as it was saved."

    async def run() -> ImportReport:
        assert kind is not None
        arguments = await _arguments(runtime, community.id)
        return await preview_commands(
            runtime.commands,
            community.id,
            kind,
            payload,
            overwrite=form["overwrite"],
            **arguments,
        )

    # the preview's confirm button sends the export again, in a hidden field
    return await _shown(request, form, errors, run, shown="preview", payload=payload)


@import_router.post("/c/{community_id}/commands/import")
async def import_confirmed(
    request: Request,
    community: InCommunity,
    person: SignedIn,
    runtime: Services,
    payload: Annotated[str, Form(max_length=MAX_EXPORT)] = "",
    source: Text = "",
    overwrite: Text = "",
) -> Response:
    form: dict[str, Any] = {"source": source, "overwrite": overwrite == "on"}
    errors: dict[str, str] = {}
    kind = _source(source, errors)
    if not payload.strip():
        errors["export"] = "Choose the export file."

    async def run() -> ImportReport:
        assert kind is not None
        return await import_commands(
            runtime.commands,
            community.id,
            kind,
            payload,
            actor=person.actor,
            overwrite=form["overwrite"],
            **await _arguments(runtime, community.id),
        )

    return await _shown(request, form, errors, run, shown="report")
