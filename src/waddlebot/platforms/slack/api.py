"""Slack over HTTP: installing the app into a workspace for a community (Slack's OAuth v2
flow, ``/collectors/slack/oauth/...``) and the link an admin asks for
(``/api/v1/slack/...``). The Events API and slash commands live with the collector
(:mod:`waddlebot.platforms.slack.webhook`)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from waddlebot.core.errors import NotFound
from waddlebot.platforms import SLACK
from waddlebot.platforms.oauth_pages import (
    Callback,
    ConnectOut,
    browser_of,
    finish,
    result_page,
    to_platform,
)
from waddlebot.platforms.oauth_tickets import TICKET_SECONDS
from waddlebot.platforms.platform import running_collector
from waddlebot.platforms.slack.connect import CALLBACK_PATH, START_PATH, SlackConnect
from waddlebot.web.deps import Admin, Running

oauth_router = APIRouter(tags=["slack"])
api_router = APIRouter(prefix="/api/v1/slack", tags=["slack"])


def _connect(request: Request) -> SlackConnect:
    collector = running_collector(request, SLACK)
    if collector is None or collector.connect is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "Slack installs are not configured here (WADDLEBOT_SLACK_CLIENT_ID)",
        )
    connect: SlackConnect = collector.connect
    return connect


Connect = Annotated[SlackConnect, Depends(_connect)]


@oauth_router.get(START_PATH, summary="Send the browser to Slack to install the app")
async def oauth_start(
    connect: Connect, request: Request, ticket: str = Query(max_length=4096)
) -> RedirectResponse:
    return await to_platform("Slack", request, partial(connect.authorize_url, ticket))


@oauth_router.get(
    CALLBACK_PATH, summary="Slack sends the browser back here", response_class=HTMLResponse
)
async def oauth_callback(
    connect: Connect,
    request: Request,
    state: str = Query(default="", max_length=4096),
    code: str = Query(default="", max_length=512),
    error: str = Query(default="", max_length=200),
) -> HTMLResponse:
    browser = browser_of("Slack", request)
    done = await finish("Slack", Callback(code, state, error, browser=browser), connect.complete)
    if isinstance(done, HTMLResponse):
        return done
    team_id, community_id = done
    return result_page(
        "Installed", f"WaddleBot is installed in workspace {team_id} for community {community_id}."
    )


@api_router.post(
    "/communities/{community_id}/install",
    response_model=ConnectOut,
    summary="A link that installs WaddleBot into a Slack workspace for this community (admin)",
)
async def install_link(
    caller: Admin,  # before the 404s below
    connect: Connect,
    runtime: Running,
) -> ConnectOut:
    community_id = caller.community_id
    if not await runtime.access.community_exists(community_id):
        raise NotFound(f"there is no community {community_id}")
    url = connect.ticket_url(community_id=community_id, actor=caller.actor)
    return ConnectOut(url=url, expires_in=TICKET_SECONDS)
