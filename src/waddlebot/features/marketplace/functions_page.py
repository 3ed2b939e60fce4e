"""The portal's Serverless page: the community's ``#`` functions (engine, version, on or off,
health), what they were called per day against the daily budget, and, for admins, the budget
form. It reads and sets what ``GET`` and ``PUT /api/v1/marketplace/communities/{id}/functions``
do, through the API's own endpoint (same validation, same audit entry)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from waddlebot.core.errors import WaddleError
from waddlebot.features.marketplace import api
from waddlebot.features.marketplace.api import Communities, FunctionBudgets, FunctionUsage, Health
from waddlebot.features.marketplace.catalogue import Entry
from waddlebot.features.marketplace.installs import Installed, Installs
from waddlebot.features.shared import FUNCTION_BUDGETS, FUNCTION_USAGE
from waddlebot.portal.deps import Caller, PageAccess
from waddlebot.portal.forms import Errors, field_errors, form_of, sentence
from waddlebot.portal.rendering import render
from waddlebot.router.breaker import HealthSnapshot
from waddlebot.router.shared_health import SharedHealth
from waddlebot.serverless import Engine
from waddlebot.serverless.accounting import Accounting
from waddlebot.serverless.budgets import Budgets
from waddlebot.web.access import ROLE_RANK
from waddlebot.web.deps import CommunityCaller
from waddlebot.web.host import api_host

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "/c/{community_id}/functions"
DAYS = 7
ENGINES: dict[Engine, str] = {
    "lambda": "AWS Lambda",
    "openwhisk": "Apache OpenWhisk",
    "function": "HTTP function",
}

router = APIRouter(include_in_schema=False)
ADMIN = [Depends(PageAccess("admin"))]  # as the API's PUT: admins set the budget


async def spending(
    community_id: int, budgets: Budgets, usage: Accounting, days: int = DAYS
) -> api.FunctionUsageOut:
    """The community's daily budget and its serverless calls per day, today first."""
    return await api.function_usage_of(community_id, budgets, usage, days)


async def spending_seen_by(request: Request, community_id: int) -> api.FunctionUsageOut:
    """:func:`spending` for a page of another router (the Modules page's budget line)."""
    host = api_host(request)
    return await spending(community_id, host.need(FUNCTION_BUDGETS), host.need(FUNCTION_USAGE))


def is_function(entry: Entry) -> bool:
    """Whether the module runs as a serverless function (its calls count against the budget)."""
    return entry.kind in ENGINES


@dataclass(frozen=True, slots=True)
class FunctionRow:
    item: Installed
    engine: str
    health: HealthSnapshot | None  # None: no router has called it


async def _page(
    request: Request,
    caller: CommunityCaller,
    installs: Installs,
    budgets: Budgets,
    usage: Accounting,
    health: SharedHealth,
    *,
    errors: Errors | None = None,
    typed: str | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    figures = await health.snapshots()
    functions = [
        FunctionRow(item, ENGINES[cast(Engine, item.entry.kind)], figures.get(item.name))
        for item in await installs.list(caller.community_id)
        if is_function(item.entry)
    ]
    spent = await spending(caller.community_id, budgets, usage)
    context: dict[str, Any] = {
        "functions": functions,
        "spent": spent,
        "admin": ROLE_RANK[caller.role] >= ROLE_RANK["admin"],
        "errors": errors or {},
        "typed": str(spent.daily_budget if spent.own_budget else "") if typed is None else typed,
        "notice": notice,
    }
    return render(request, "functions.html", context, status_code=status_code, directory=TEMPLATES)


@router.get(PAGE)
async def functions_page(
    request: Request,
    caller: Caller,
    installs: Communities,
    budgets: FunctionBudgets,
    usage: FunctionUsage,
    health: Health,
) -> Response:
    return await _page(request, caller, installs, budgets, usage, health)


@router.post(PAGE + "/budget", dependencies=ADMIN)
async def set_budget(
    request: Request,
    caller: Caller,
    installs: Communities,
    budgets: FunctionBudgets,
    usage: FunctionUsage,
    health: Health,
) -> Response:
    """Set the daily budget as ``PUT .../functions/budget`` does: a number (0: no limit), or
    back to the operator's default (its own button)."""
    form = await form_of(request)
    errors = await _set_budget(caller, budgets, usage, form)
    if not errors:
        return RedirectResponse(f"/c/{caller.community_id}/functions#budget", 303)
    return await _page(
        request,
        caller,
        installs,
        budgets,
        usage,
        health,
        errors=errors,
        typed=form.get("daily", ""),
        status_code=400,
    )


async def _set_budget(
    caller: CommunityCaller, budgets: Budgets, usage: Accounting, form: dict[str, str]
) -> Errors:
    """What is wrong with the budget form; nothing once the budget is set."""
    default = form.get("default") == "yes"
    daily = form.get("daily", "")
    if not default and not daily:  # left blank, or words typed in the number field
        return {"budget-daily": "Give the calls a day as a whole number, 0 for no limit."}
    try:
        body = api.BudgetIn.model_validate({"daily": None if default else daily})
        await api.set_function_budget(caller, body, budgets, usage)
    except ValidationError as exc:
        return field_errors(exc, "budget")
    except WaddleError as exc:
        return {"budget-daily": sentence(str(exc))}
    return {}
