"""The bare endpoint the ingest benchmark compares WaddleBot's webhooks with: a Starlette app
whose one route reads the body and answers 204, nothing else.

    python -m bench.bare --port 8100 [--uvicorn-defaults]

By default it runs under exactly the uvicorn configuration WaddleBot's processes use
(``web/server.py``: HTTP parser, header limits, loop), so the ratio to it is what WaddleBot's
app adds; ``--uvicorn-defaults`` runs it under uvicorn's own defaults instead.
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waddlebot.settings import Settings
from waddlebot.web.server import server_config

PATH = "/collectors/twitch/eventsub"  # the requests are the Twitch webhook's


async def bare(request: Request) -> Response:
    await request.body()
    return Response(status_code=204)


def app() -> Starlette:
    return Starlette(routes=[Route(PATH, bare, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--uvicorn-defaults", action="store_true")
    args = parser.parse_args()
    if args.uvicorn_defaults:
        config = uvicorn.Config(app(), host="127.0.0.1", port=args.port, log_level="warning")
    else:
        settings = Settings(_env_file=None, log_level="WARNING")  # type: ignore[call-arg]
        config = server_config(settings, app(), host="127.0.0.1", port=args.port)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
