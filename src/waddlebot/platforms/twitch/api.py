"""Twitch over HTTP: connecting accounts by OAuth (``/collectors/twitch/oauth/...``) and the
collector's state (``/api/v1/twitch/...``). The EventSub webhook itself lives with the
collector (:mod:`waddlebot.platforms.twitch.webhook`)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from waddlebot.core.errors import NotFound
from waddlebot.platforms import TWITCH
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
from waddlebot.platforms.twitch.collector import TwitchCollector
from waddlebot.platforms.twitch.connect import CALLBACK_PATH, START_PATH
from waddlebot.web.deps import Admin, require_service

log = structlog.get_logger("waddlebot.twitch.web")

oauth_router = APIRouter(tags=["twitch"])
api_router = APIRouter(prefix="/api/v1/twitch", tags=["twitch"])


def _collector(request: Request) -> TwitchCollector:
    twitch = running_collector(request, TWITCH)
    if twitch is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "Twitch is not configured here (WADDLEBOT_TWITCH_CLIENT_ID)"
        )
    return twitch


Collector = Annotated[TwitchCollector, Depends(_collector)]


@oauth_router.get(START_PATH, summary="Send the browser to Twitch to connect an account")
async def oauth_start(
    twitch: Collector, request: Request, ticket: str = Query(max_length=4096)
) -> RedirectResponse:
    return await to_platform("Twitch", request, partial(twitch.connect.authorize_url, ticket))


@oauth_router.get(
    CALLBACK_PATH, summary="Twitch sends the browser back here", response_class=HTMLResponse
)
async def oauth_callback(
    twitch: Collector,
    request: Request,
    state: str = Query(default="", max_length=4096),
    code: str = Query(default="", max_length=512),
    error: str = Query(default="", max_length=200),
    error_description: str = Query(default="", max_length=500),
) -> HTMLResponse:
    callback = Callback(code, state, error, error_description, browser_of("Twitch", request))
    done = await finish("Twitch", callback, twitch.connect.complete)
    if isinstance(done, HTMLResponse):
        return done
    await twitch.after_connect(done)
    who = done.status.login or done.status.account_id
    missing = ", ".join(done.status.missing_scopes)
    note = f" Missing permissions: {missing}; connect again to grant them." if missing else ""
    return result_page(
        "Connected", f"The Twitch account {who} is connected ({done.status.purpose}).{note}"
    )


@api_router.post(
    "/communities/{community_id}/connect",
    response_model=ConnectOut,
    summary="A link that connects a Twitch channel to this community (admin role)",
)
async def connect_channel(
    caller: Admin,  # before the 404 below
    twitch: Collector,
) -> ConnectOut:
    community_id = caller.community_id
    if not await twitch.community_exists(community_id):
        raise NotFound(f"there is no community {community_id}")
    url = twitch.connect.ticket_url(
        purpose="broadcaster", community_id=community_id, actor=caller.actor
    )
    return ConnectOut(url=url, expires_in=TICKET_SECONDS)


class TokenOut(BaseModel):
    account_id: str
    login: str
    purpose: str
    community_id: int | None
    scopes: list[str]
    missing_scopes: list[str]
    expires_at: datetime | None
    validated_at: datetime | None
    status: str


class SubscriptionOut(BaseModel):
    id: str
    type: str
    version: str
    broadcaster_id: str
    transport: str
    status: str


class StatusOut(BaseModel):
    transport: str
    bot_user_id: str = Field(description="empty until the bot account is connected")
    tokens: list[TokenOut]
    subscriptions: list[SubscriptionOut]


@api_router.get(
    "/status",
    response_model=StatusOut,
    dependencies=[Depends(require_service)],
    summary="Connected accounts (never their tokens) and EventSub subscriptions",
)
async def twitch_status(twitch: Collector) -> StatusOut:
    tokens = await twitch.tokens.statuses()
    subscriptions = await twitch.subscriptions.list()
    return StatusOut(
        transport=twitch.transport,
        bot_user_id=twitch.bot_user_id,
        tokens=[
            TokenOut(
                account_id=t.account_id,
                login=t.login,
                purpose=t.purpose,
                community_id=t.community_id,
                scopes=list(t.scopes),
                missing_scopes=list(t.missing_scopes),
                expires_at=t.expires_at,
                validated_at=t.validated_at,
                status=t.status,
            )
            for t in tokens
        ],
        subscriptions=[
            SubscriptionOut(
                id=s.id,
                type=s.type,
                version=s.version,
                broadcaster_id=s.broadcaster_id,
                transport=s.transport,
                status=s.status,
            )
            for s in subscriptions
        ],
    )
