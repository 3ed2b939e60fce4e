"""``waddlebot twitch ...``: connect accounts, see what is connected, repair subscriptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:  # imported when used: `waddlebot --help` stays fast
    from waddlebot.platforms.twitch.collector import TwitchCollector

twitch_app = typer.Typer(help="The Twitch collector.", no_args_is_help=True)
subscriptions_app = typer.Typer(help="EventSub subscriptions.", no_args_is_help=True)
twitch_app.add_typer(subscriptions_app, name="subscriptions")

T = TypeVar("T")


@asynccontextmanager
async def _collector() -> AsyncIterator[TwitchCollector]:
    """The collector's parts, without listening or sending anything."""
    from waddlebot.cli.main import _settings
    from waddlebot.platforms.twitch.collector import TwitchCollector
    from waddlebot.runtime import Runtime

    settings = _settings(quiet=True)
    if not settings.twitch_client_id:
        typer.echo("Set WADDLEBOT_TWITCH_CLIENT_ID and WADDLEBOT_TWITCH_CLIENT_SECRET first.")
        raise typer.Exit(2)
    runtime = await Runtime.start(settings, services=())
    try:
        collector = TwitchCollector(
            settings,
            ports=runtime.ports,
            db=runtime.db,
            community=runtime.community,
            audit=runtime.audit,
            streams=runtime.streams,
            consumer="cli",
        )
        await collector.load()
        try:
            yield collector
        finally:
            await collector.stop()
    finally:
        await runtime.stop()


def _run(work: Callable[[TwitchCollector], Awaitable[T]]) -> T:
    async def go() -> T:
        async with _collector() as collector:
            return await work(collector)

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
        typer.echo("Give --bot, --community <id>, or both (the streamer's account as the bot).")
        raise typer.Exit(2)
    purpose = "both" if bot and community is not None else "bot" if bot else "broadcaster"

    async def work(collector: TwitchCollector) -> str:
        if community is not None and not await collector.community_exists(community):
            typer.echo(f"There is no community {community}.")
            raise typer.Exit(2)
        return collector.connect.ticket_url(purpose=purpose, community_id=community, actor="cli")

    url = _run(work)
    typer.echo(f"Open this link within 15 minutes, signed in to the Twitch account:\n{url}")


@twitch_app.command("status")
def status() -> None:
    """Connected accounts (validated now) with missing scopes, the conduit and its shards
    (conduit transport), and the subscriptions."""

    async def work(collector: TwitchCollector) -> bool:
        healthy = True
        tokens = await collector.tokens.validate_all()
        if not any(t.purpose == "bot" for t in tokens):
            typer.echo("bot account: not connected (waddlebot twitch connect --bot)")
            healthy = False
        for token in tokens:
            line = f"{token.purpose} {token.login or token.account_id} ({token.account_id})"
            line += f": {token.status}"
            if token.missing_scopes:
                line += f", missing scopes: {' '.join(token.missing_scopes)}"
            healthy = healthy and token.healthy
            typer.echo(line)
        if collector.transport == "conduit":
            healthy = await _conduit_status(collector) and healthy
        for sub in await collector.subscriptions.list():
            typer.echo(f"subscription {sub.type} v{sub.version} {sub.broadcaster_id}: {sub.status}")
        return healthy

    if not _run(work):
        raise typer.Exit(1)


async def _conduit_status(collector: TwitchCollector) -> bool:
    """The conduit and each shard: its status, session and the process holding it."""
    status = await collector.conduit.status()
    if status.conduit is None:
        typer.echo("conduit: none yet (the running collector makes it)")
        return False
    typer.echo(f"conduit {status.conduit.id}: {status.conduit.shard_count} shards")
    for shard in status.shards:
        holder = shard.holder or "no process"
        session = f", session {shard.session_id}" if shard.session_id else ""
        typer.echo(f"shard {shard.id}: {shard.status}{session}, held by {holder}")
    return all(shard.status == "enabled" and shard.holder for shard in status.shards)


@subscriptions_app.command("sync")
def subscriptions_sync() -> None:
    """Create missing EventSub subscriptions and replace failed or revoked ones."""

    async def work(collector: TwitchCollector) -> bool:
        if collector.transport == "websocket":
            typer.echo(
                "With the websocket transport the running collector subscribes on every "
                "connection; restart it to subscribe again."
            )
            return True
        report = await collector.sync_subscriptions()
        for label, items in (
            ("created", report.created),
            ("present", report.present),
            ("removed", report.removed),
            ("failed", report.failed),
        ):
            for item in items:
                typer.echo(f"{label}: {item}")
        return not report.failed

    if not _run(work):
        raise typer.Exit(1)
