"""``waddlebot init``: a short wizard that writes ``.env`` for the platforms a person picks,
then says what to run next.

What it asks comes from the platforms' registry (``PlatformPackage.setup``: the settings,
each also a flag such as ``--twitch-client-id``), so a new platform brings its questions with
it. With ``--yes`` nothing is asked: every platform and value comes from the flags, for
scripts. An existing ``.env`` keeps its other lines; a value it already has is replaced only
after a yes (interactive) or with ``--force``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from waddlebot.cli.failures import CommandFailed
from waddlebot.platforms import BUILTINS
from waddlebot.platforms.platform import PlatformPackage, SetupField

HEADER = (
    "# WaddleBot settings, written by `waddlebot init`; every one is in docs/configuration.md\n"
)

Answers = dict[str, str]  # WADDLEBOT_... variable -> value


def _choosable() -> list[PlatformPackage[Any]]:
    return [platform for platform in BUILTINS if platform.setup]


def _init(
    platform: list[str] | None,
    env_file: Path,
    yes: bool,
    force: bool,
    given: dict[str, str | None],
) -> None:
    picked = _pick(platform, ask=not yes)
    answers: Answers = {}
    for package in picked:
        for field in package.setup:
            value = _value(field, given.get(field.setting), ask=not yes)
            if value:
                answers[field.variable] = value
    written = _write(env_file, answers, ask=not yes, force=force)
    names = ", ".join(p.name for p in picked)
    if written:
        settings = "setting" if len(written) == 1 else "settings"
        typer.echo(
            f"Wrote {len(written)} {settings} for {names} to {env_file}: {', '.join(written)}"
        )
    else:
        typer.echo(f"{env_file} has these settings already; nothing to write.")
    typer.echo("Next: start WaddleBot with `waddlebot up`, then")
    for package in picked:
        for step in package.next_steps:
            typer.echo(f"  {step}")


def _pick(names: list[str] | None, *, ask: bool) -> list[PlatformPackage[Any]]:
    known = {p.name: p for p in _choosable()}
    while not names:
        if not ask:
            raise typer.BadParameter(f"give --platform ({', '.join(known)}) with --yes")
        answer = typer.prompt(f"Platforms to set up ({', '.join(known)}; comma-separated)")
        names = [name.strip().lower() for name in answer.split(",") if name.strip()]
        unknown = [name for name in names if name not in known]
        if unknown:
            typer.echo(f"There is no platform {', '.join(unknown)}; choose from the list.")
            names = []
    unknown = [name for name in names if name not in known]
    if unknown:
        raise typer.BadParameter(f"choose from {', '.join(known)} (not {', '.join(unknown)})")
    return [known[name] for name in dict.fromkeys(names)]


def _value(field: SetupField, given: str | None, *, ask: bool) -> str:
    if given is not None:
        if problem := _problem(field, given):
            raise typer.BadParameter(f"{field.flag}: {problem}")
        return given
    if not ask:
        if field.required:
            raise typer.BadParameter(f"give {field.flag} with --yes ({field.question})")
        return ""
    while True:
        value: str = typer.prompt(
            field.question if field.required else f"{field.question} (Enter to skip)",
            default="" if not field.required else None,
            show_default=False,
            hide_input=field.secret,
        ).strip()
        problem = _problem(field, value)
        if not problem:
            return value
        typer.echo(problem)


def _problem(field: SetupField, value: str) -> str:
    if not value:
        return "it is needed" if field.required else ""
    if field.prefix and not value.startswith(field.prefix):
        return f"it starts with {field.prefix}"
    return ""


def _write(path: Path, answers: Answers, *, ask: bool, force: bool) -> list[str]:
    """Write ``answers`` into ``path`` and return the variables written; lines already there
    stay, and values that differ are replaced only after a yes or with ``force``."""
    from dotenv import dotenv_values, set_key

    existing = dotenv_values(path) if path.exists() else {}
    replaced = [name for name, value in answers.items() if existing.get(name) not in (None, value)]
    if replaced and not force:
        question = f"{path} sets {', '.join(replaced)} already. Replace?"
        if not ask:
            raise CommandFailed(
                f"{path} sets {', '.join(replaced)} already; left as it was. Run again with "
                "--force to replace them, or edit the file."
            )
        if not typer.confirm(question, default=False):
            raise CommandFailed(f"left {path} as it was")
    if not path.exists():
        # it holds secrets: readable by its owner only, from the first byte on
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(HEADER)
    written = [name for name, value in answers.items() if existing.get(name) != value]
    for name in written:
        set_key(path, name, answers[name])
    return written


def _command() -> Callable[..., None]:
    """The command, with one flag per setting the platforms ask for (built from the
    registry, as typer reads a command's options from its signature)."""
    names = ", ".join(p.name for p in _choosable())
    fields = [field for package in _choosable() for field in package.setup]

    def init(**options: Any) -> None:
        """Write .env for the platforms you pick, asking for what each needs.

        Every question is also a flag; with --yes nothing is asked (for scripts). An
        existing .env keeps its other lines; a value it already has is replaced only after
        a yes, or with --force."""
        given = {field.setting: options[field.setting] for field in fields}
        _init(options["platform"], options["env_file"], options["yes"], options["force"], given)

    fixed: Sequence[tuple[str, Any, Any]] = (
        (
            "platform",
            Annotated[
                list[str] | None,
                typer.Option("--platform", "-p", help=f"a platform to set up: {names}"),
            ],
            None,
        ),
        (
            "env_file",
            Annotated[Path, typer.Option(help="the file to write (read from where you start)")],
            Path(".env"),
        ),
        ("yes", Annotated[bool, typer.Option("--yes", "-y", help="ask nothing")], False),
        (
            "force",
            Annotated[bool, typer.Option("--force", help="replace values .env has already")],
            False,
        ),
    )
    per_field = [
        (
            field.setting,
            Annotated[str | None, typer.Option(field.flag, help=field.question)],
            None,
        )
        for field in fields
    ]
    parameters = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for name, kind, default in (*fixed, *per_field)
    ]
    init.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    init.__annotations__ = {p.name: p.annotation for p in parameters}
    return init


init = _command()
