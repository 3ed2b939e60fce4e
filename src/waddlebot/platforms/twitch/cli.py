"""``waddlebot twitch ...``: connect accounts, see what is connected, repair subscriptions."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from waddlebot.core.errors import ConfigurationError
from waddlebot.platforms.platform import CommandLine
from waddlebot.platforms.twitch.settings import TwitchSettings

if TYPE_CHECKING:  # imported when used: `waddlebot --help` stays fast
    from waddlebot.platforms.twitch.collector import TwitchCollector

T = TypeVar("T")
JsonOption = Annotated[bool, typer.Option("--json", help="one JSON object (see docs/cli.md)")]


def twitch_cli(host: CommandLine) -> typer.Typer:
    twitch_app = typer.Typer(help="The Twitch collector.", no_args_is_help=True)
    subscriptions_app = typer.Typer(help="EventSub subscriptions.", no_args_is_help=True)
    twitch_app.add_typer(subscriptions_app, name="subscriptions")

    @asynccontextmanager
    async def collector() -> AsyncIterator[TwitchCollector]:
        """The collector's parts, without listening or sending anything."""
        from waddlebot.platforms.twitch import TWITCH

        async with host.runtime() as parts:
            built = TWITCH.build(parts.collector)
            try:
                await built.load()
                yield built
            finally:
                await built.stop()

    def run(work: Callable[[TwitchCollector], Awaitable[T]]) -> T:
        settings = host.settings().section(TwitchSettings)
        if not settings.twitch_client_id:
            raise ConfigurationError(
                "is not set, and the Twitch commands work with the Twitch application",
                setting="WADDLEBOT_TWITCH_CLIENT_ID",
                fix="Set it and WADDLEBOT_TWITCH_CLIENT_SECRET (see docs/twitch.md).",
            )

        async def go() -> T:
            async with collector() as built:
                return await work(built)

        return asyncio.run(go())

    @twitch_app.command("connect")
    def connect(
        community: Annotated[
            int | None, typer.Option(help="connect a broadcaster's channel to this community")
        ] = None,
        bot: Annotated[bool, typer.Option("--bot", help="connect the bot's own account")] = False,
    ) -> None:
        """Print a link that connects a Twitch account (open it signed in to that account).
        Both options together: the streamer's own account is the bot too."""
        if not bot and community is None:
            raise typer.BadParameter(
                "give --bot, --community <id>, or both (the streamer's account as the bot)"
            )
        purpose = "both" if bot and community is not None else "bot" if bot else "broadcaster"

        async def work(built: TwitchCollector) -> str | None:
            if community is not None and not await built.community_exists(community):
                return None
            return built.connect.ticket_url(purpose=purpose, community_id=community, actor="cli")

        url = run(work)
        if url is None:
            typer.echo(f"There is no community {community}.", err=True)
            raise typer.Exit(1)
        typer.echo(f"Open this link within 15 minutes, signed in to the Twitch account:\n{url}")

    @twitch_app.command("status")
    def status(as_json: JsonOption = False) -> None:
        """Connected accounts (validated now) with missing scopes, the conduit and its shards
        (conduit transport), and the subscriptions. Exits 1 when the bot account is missing,
        an account is not healthy, or a shard is not enabled or not held."""

        async def work(built: TwitchCollector) -> dict[str, Any]:
            tokens = await built.tokens.validate_all()
            subscriptions = await built.subscriptions.list()
            report: dict[str, Any] = {
                "healthy": any(t.purpose == "bot" for t in tokens)
                and all(t.healthy for t in tokens),
                "transport": built.transport,
                "bot_user_id": built.bot_user_id,
                "tokens": [dataclasses.asdict(t) for t in tokens],
                "subscriptions": [dataclasses.asdict(s) for s in subscriptions],
            }
            if built.transport == "conduit":
                report["conduit"] = await _conduit_report(built)
                report["healthy"] = report["healthy"] and report["conduit"]["healthy"]
            return report

        report = run(work)
        if as_json:
            host.print_json(report)
        else:
            _print_status(report)
        if not report["healthy"]:
            raise typer.Exit(1)

    @subscriptions_app.command("sync")
    def subscriptions_sync(as_json: JsonOption = False) -> None:
        """Create missing EventSub subscriptions and replace failed or revoked ones."""

        async def work(built: TwitchCollector) -> dict[str, list[str]] | None:
            if built.transport == "websocket":
                return None
            report = await built.sync_subscriptions()
            return {
                "created": report.created,
                "present": report.present,
                "removed": report.removed,
                "failed": report.failed,
            }

        report = run(work)
        if report is None:
            typer.echo(
                "With the websocket transport the running collector subscribes on every "
                "connection; restart it to subscribe again.",
                err=as_json,
            )
            if as_json:
                host.print_json({"created": [], "present": [], "removed": [], "failed": []})
            return
        if as_json:
            host.print_json(report)
        else:
            for label, items in report.items():
                for item in items:
                    typer.echo(f"{label}: {item}")
        if report["failed"]:
            raise typer.Exit(1)

    return twitch_app


async def _conduit_report(collector: TwitchCollector) -> dict[str, Any]:
    """The conduit and each shard: its status, session and the process holding it."""
    status = await collector.conduit.status()
    if status.conduit is None:
        return {"healthy": False, "id": None, "shard_count": 0, "shards": []}
    shards = [
        {
            "id": shard.id,
            "status": shard.status,
            "session_id": shard.session_id,
            "holder": shard.holder,
        }
        for shard in status.shards
    ]
    return {
        "healthy": all(shard["status"] == "enabled" and shard["holder"] for shard in shards),
        "id": status.conduit.id,
        "shard_count": status.conduit.shard_count,
        "shards": shards,
    }


def _print_conduit(conduit: dict[str, Any]) -> None:
    if conduit["id"] is None:
        typer.echo("conduit: none yet (the running collector makes it)")
        return
    typer.echo(f"conduit {conduit['id']}: {conduit['shard_count']} shards")
    for shard in conduit["shards"]:
        session = f", session {shard['session_id']}" if shard["session_id"] else ""
        typer.echo(
            f"shard {shard['id']}: {shard['status']}{session}, held by "
            f"{shard['holder'] or 'no process'}"
        )


def _print_status(report: dict[str, Any]) -> None:
    tokens = report["tokens"]
    if not any(t["purpose"] == "bot" for t in tokens):
        typer.echo("bot account: not connected (waddlebot twitch connect --bot)")
    for token in tokens:
        line = f"{token['purpose']} {token['login'] or token['account_id']} "
        line += f"({token['account_id']}): {token['status']}"
        if token["missing_scopes"]:
            line += f", missing scopes: {' '.join(token['missing_scopes'])}"
        typer.echo(line)
    if "conduit" in report:
        _print_conduit(report["conduit"])
    for sub in report["subscriptions"]:
        typer.echo(
            f"subscription {sub['type']} v{sub['version']} {sub['broadcaster_id']}: {sub['status']}"
        )
