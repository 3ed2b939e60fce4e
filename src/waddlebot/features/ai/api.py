"""``/api/v1/ai``: what a community's ``!ai`` costs, read by its moderators (as the
serverless functions' usage is)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from waddlebot.features.ai.budget import KEEP_DAYS, TOKEN_BUDGET, TokenBudget
from waddlebot.features.shared import MODULE_VIEWS
from waddlebot.router.views import ModuleViews, view_of
from waddlebot.web.deps import Moderator, needs
from waddlebot.web.numbers import Count

router = APIRouter(prefix="/api/v1/ai", tags=["ai"])

Budget = Annotated[TokenBudget, needs(TOKEN_BUDGET)]
Views = Annotated[ModuleViews, needs(MODULE_VIEWS)]


class ProviderTokensOut(BaseModel):
    prompt_tokens: Count
    completion_tokens: Count


class TokenDayOut(BaseModel):
    day: date
    tokens: Count = Field(description="prompt and completion tokens of every provider")
    refused: Count = Field(description="questions refused over budget")
    providers: dict[str, ProviderTokensOut]


class TokenUsageOut(BaseModel):
    daily_tokens: Count = Field(description="the community's budget a day (0: no limit)")
    operator_daily_tokens: Count = Field(
        description="WADDLEBOT_AI_DAILY_TOKENS: the most a community may have (0: no limit)"
    )
    own_budget: bool = Field(description="false: the operator's budget applies")
    days: list[TokenDayOut] = Field(description="today first")


@router.get("/communities/{community_id}/usage", response_model=TokenUsageOut)
async def token_usage(
    caller: Moderator,
    budget: Budget,
    views: Views,
    days: Annotated[int, Query(ge=1, le=KEEP_DAYS, description="how many days back")] = 1,
) -> Any:
    """The tokens the community's ``!ai`` spent (today, or ``days`` back) and its budget."""
    config = (await view_of(views, caller.community_id)).config("ai")
    report = await budget.report(caller.community_id, config, days)
    return TokenUsageOut(
        daily_tokens=report.daily_tokens,
        operator_daily_tokens=report.operator_daily,
        own_budget=report.own_budget,
        days=[
            TokenDayOut(
                day=day.day,
                tokens=day.tokens,
                refused=day.refused,
                providers={
                    name: ProviderTokensOut(
                        prompt_tokens=used.prompt, completion_tokens=used.completion
                    )
                    for name, used in day.providers.items()
                },
            )
            for day in report.days
        ],
    )
