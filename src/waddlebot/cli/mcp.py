"""``waddlebot mcp serve --stdio``: WaddleBot as an MCP server for an assistant that starts
it (src/waddlebot/mcp_server, docs/mcp.md). Over HTTP the API serves it at ``/mcp``."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from waddlebot.cli.failures import CommandFailed
from waddlebot.cli.host import read_settings
from waddlebot.core.errors import ConfigurationError
from waddlebot.settings import Settings

mcp_app = typer.Typer(help="WaddleBot as an MCP server (docs/mcp.md).", no_args_is_help=True)


@mcp_app.command("serve")
def mcp_serve(
    stdio: Annotated[
        bool, typer.Option("--stdio", help="serve on stdin and stdout (the only way here)")
    ] = False,
    community: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="ID",
            help="the community to act in (default: the key's, or the person's only one)",
        ),
    ] = None,
) -> None:
    """Serve the tools and resources to an MCP client, as the person whose key is in
    WADDLEBOT_MCP_API_KEY."""
    from waddlebot import mcp_server

    if not stdio:
        raise typer.BadParameter(
            "give --stdio; over HTTP, `waddlebot up` and `waddlebot serve api` serve /mcp",
            param_hint="--stdio",
        )
    if not mcp_server.available():
        raise CommandFailed("the MCP SDK is not installed: pip install 'waddlebot[ai]'")
    settings = read_settings(quiet=True)  # logs go to stderr: stdout carries the protocol
    key = settings.mcp_api_key.get_secret_value()
    if not key:
        raise ConfigurationError(
            "is not set; the MCP server acts as the person whose API key it holds",
            setting="WADDLEBOT_MCP_API_KEY",
            fix="Set it in the environment the MCP client starts the command with "
            "(never on the command line).",
        )
    asyncio.run(_serve(settings, key, community))


async def _serve(settings: Settings, key: str, community: int | None) -> None:
    from waddlebot.mcp_server.callers import CallerRefused, KeyRefused
    from waddlebot.mcp_server.stdio import serve_stdio
    from waddlebot.runtime import Runtime

    runtime = await Runtime.start(settings, services=())
    try:
        await serve_stdio(runtime, key, community)
    except KeyRefused as exc:
        raise CommandFailed(
            "WADDLEBOT_MCP_API_KEY is not a valid API key (revoked, expired or mistyped)"
        ) from exc
    except CallerRefused as exc:
        raise CommandFailed(str(exc)) from exc
    finally:
        await runtime.stop()
