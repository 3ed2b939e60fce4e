"""``waddlebot secret-key``: a new key for ``WADDLEBOT_SECRET_KEYS``, and ``rotate``, which
re-encrypts every stored secret with the newest one (docs/configuration.md says when an old
key can go)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Annotated

import typer

from waddlebot.cli.host import print_json, read_settings

if TYPE_CHECKING:  # imported when used: `waddlebot --help` stays fast
    from waddlebot.infra.secret_rotation import TableRotation

secret_key_app = typer.Typer(
    help="Keys that encrypt secrets at rest (WADDLEBOT_SECRET_KEYS).",
    invoke_without_command=True,
)


@secret_key_app.callback()
def new_key(ctx: typer.Context) -> None:
    """Print a new key for WADDLEBOT_SECRET_KEYS (it encrypts platform tokens at rest)."""
    from waddlebot.infra.secretbox import SecretBox

    if ctx.invoked_subcommand is None:
        typer.echo(SecretBox.generate_key())


@secret_key_app.command("rotate")
def rotate(
    as_json: Annotated[
        bool,
        typer.Option("--json", help="a JSON array: table, rotated, current, unreadable, busy"),
    ] = False,
) -> None:
    """Re-encrypt every stored secret (Twitch tokens, Slack installs, overlay URLs) with the
    newest key, the first of WADDLEBOT_SECRET_KEYS. Safe to run again and while WaddleBot
    runs. Exits 1 when a secret no configured key decrypts was left as it was."""
    from waddlebot.cli.bootstrap import open_database
    from waddlebot.features import load_models
    from waddlebot.infra.secret_rotation import rotate_secrets
    from waddlebot.infra.secretbox import SecretBox

    settings = read_settings(quiet=True)
    box = SecretBox.from_settings(settings)

    async def work() -> list[TableRotation]:
        db = await open_database(settings)
        try:
            return await rotate_secrets(db, box, load_models())
        finally:
            await db.close()

    tables = asyncio.run(work())
    if as_json:
        print_json([dataclasses.asdict(table) for table in tables])
    else:
        for table in tables:
            _print_table(table)
    if any(table.unreadable or table.busy for table in tables):
        raise typer.Exit(1)


def _print_table(table: TableRotation) -> None:
    name = table.table
    typer.echo(f"{name}: {table.rotated} re-encrypted, {table.current} already current")
    if table.unreadable:
        typer.echo(
            f"{name}: {len(table.unreadable)} no configured key decrypts, left as they are "
            f"(keys {', '.join(table.unreadable)}): put the key they were encrypted with back "
            "into WADDLEBOT_SECRET_KEYS and run this again, or connect those accounts again",
            err=True,
        )
    if table.busy:
        typer.echo(
            f"{name}: {len(table.busy)} rewritten by a running WaddleBot every time they were "
            f"read (keys {', '.join(table.busy)}): run this again",
            err=True,
        )
