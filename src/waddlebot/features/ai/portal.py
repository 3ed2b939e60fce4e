"""The AI feature's portal page, ``/c/{id}/ai``: the tokens spent against the budget (as
``GET /api/v1/ai/communities/{id}/usage`` reports them, through the same
:meth:`~waddlebot.features.ai.budget.TokenBudget.report`), the daily budget, the providers and
their order, and the community's MCP servers with a check of what each offers.

Moderators read it; admins change it, each change saved as the ``ai`` module's settings through
:class:`~waddlebot.features.marketplace.installs.Installs` (checked against the module's schema
and audited as ``marketplace.config``, as ``!module config ai ...`` is). Where the module is
switched off, the page says so and links to the Modules page, and changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from waddlebot.core.errors import NotFound, WaddleError
from waddlebot.core.module_config import ConfigError, with_defaults
from waddlebot.features.ai.budget import KEEP_DAYS, MAX_DAILY_TOKENS, TOKEN_BUDGET, TokenBudget
from waddlebot.features.ai.mcp_config import (
    allowed_tools,
    servers_of,
    tool_names,
    with_server,
    with_tools,
    without_server,
)
from waddlebot.features.ai.mcp_servers import (
    MCP_SERVERS,
    McpServers,
    ServerTool,
    ServerUnavailable,
    server_spec,
)
from waddlebot.features.ai.operator import OPERATOR_SETUP, OperatorSetup
from waddlebot.features.ai.service import CONFIG_SCHEMA, PROVIDERS
from waddlebot.features.marketplace.installs import Installed, Installs
from waddlebot.features.shared import INSTALLS
from waddlebot.portal.deps import (
    InCommunity,
    PageAccess,
    PageNotFound,
    PortalCommunity,
    PortalPerson,
    SignedIn,
)
from waddlebot.portal.forms import Errors, form_of, sentence
from waddlebot.portal.rendering import render
from waddlebot.web.access import ROLE_RANK
from waddlebot.web.deps import needs

TEMPLATES = Path(__file__).resolve().parent / "templates"
MODULE = "ai"
DAYS = (7, 30)  # the usage table's choices

router = APIRouter(include_in_schema=False)
ADMIN = [Depends(PageAccess("admin"))]  # as the API: admins change a module's settings
Communities = Annotated[Installs, needs(INSTALLS)]
Budget = Annotated[TokenBudget, needs(TOKEN_BUDGET)]
Setup = Annotated[OperatorSetup, needs(OPERATOR_SETUP)]
Servers = Annotated[McpServers, needs(MCP_SERVERS)]


@dataclass(frozen=True, slots=True)
class Checked:
    """What a check of one server found: its tools, or why it could not say."""

    server: str
    tools: list[ServerTool] = field(default_factory=list)
    problem: str = ""


@dataclass(frozen=True, slots=True)
class AiPage:
    """The page in one community, with what rendering and saving it needs."""

    request: Request
    community: PortalCommunity
    installs: Installs
    budget: TokenBudget
    setup: OperatorSetup

    async def installed(self) -> Installed:
        try:
            return await self.installs.get(self.community.id, MODULE)
        except NotFound as exc:  # the module is not in this deployment's catalogue
            raise PageNotFound from exc

    async def config(self) -> Mapping[str, Any] | None:
        """The community's stored ``ai`` settings; None where the module is off."""
        installed = await self.installed()
        return installed.config if installed.enabled else None

    async def show(
        self, status_code: int = 200, *, days: int = DAYS[0], **context: Any
    ) -> Response:
        installed = await self.installed()
        values: dict[str, Any] = {
            "off": not installed.enabled,
            "can_change": ROLE_RANK[self.community.role] >= ROLE_RANK["admin"],
            "errors": {},
            "typed": {},
            "notice": "",
            "checked": None,
        }
        values.update(context)
        if installed.enabled:
            values.update(await self._figures(installed.config, days))
        return render(self.request, "ai.html", values, status_code=status_code, directory=TEMPLATES)

    async def _figures(self, config: Mapping[str, Any], days: int) -> dict[str, Any]:
        report = await self.budget.report(self.community.id, config, days)
        settings = with_defaults(CONFIG_SCHEMA, config)
        allowed = allowed_tools(config)
        return {
            "report": report,
            "days": days,
            "day_choices": DAYS,
            "providers": self.setup.providers,
            "provider_names": PROVIDERS,
            "order": list(settings["provider_order"]),
            "models": {name: settings.get(f"model_{name}", "") for name in PROVIDERS},
            "max_daily_tokens": MAX_DAILY_TOKENS,
            "servers": [(server, allowed.get(server["name"], [])) for server in servers_of(config)],
            "mcp_commands": self.setup.mcp_commands,
        }

    async def save(
        self,
        values: Mapping[str, Any],
        person: PortalPerson,
        fields: Mapping[str, str],
        section: str,
    ) -> Errors:
        """Save ``values`` as the module's settings; what is wrong by the id of its field
        (``fields``: a setting's path, or the start of one, to the field's id), the rest
        under ``section``. Empty: saved."""
        try:
            await self.installs.configure(self.community.id, MODULE, values, actor=person.actor)
        except ConfigError as exc:
            return _placed(exc.problems, fields, section)
        except WaddleError as exc:  # a value chat words could not be read as (an integer)
            text = str(exc)
            key = next((key for key in fields if text.startswith(f"{key} ")), None)
            return {fields[key] if key else section: sentence(text)}
        return {}


async def ai_page(
    request: Request, community: InCommunity, installs: Communities, budget: Budget, setup: Setup
) -> AiPage:
    return AiPage(request, community, installs, budget, setup)


PageOf = Annotated[AiPage, Depends(ai_page)]


def _placed(problems: list[str], fields: Mapping[str, str], section: str) -> Errors:
    """The schema's problems (``<path>: <what>``) at the field whose setting path starts the
    problem's, the longest such; the rest under ``section``."""
    said: dict[str, list[str]] = {}
    for problem in problems:
        where, _, what = problem.partition(": ")
        matching = [key for key in fields if where == key or where.startswith(f"{key}.")]
        if matching:
            said.setdefault(fields[max(matching, key=len)], []).append(what)
        else:
            said.setdefault(section, []).append(problem)
    return {key: sentence("; ".join(texts)) for key, texts in said.items()}


@router.get("/c/{community_id}/ai")
async def ai(page: PageOf, days: Annotated[int, Query(ge=1, le=KEEP_DAYS)] = DAYS[0]) -> Response:
    return await page.show(days=days)


@router.post("/c/{community_id}/ai/budget", dependencies=ADMIN)
async def save_budget(page: PageOf, person: SignedIn) -> Response:
    form = await form_of(page.request)
    if await page.config() is None:
        return await page.show(409)
    values = {"daily_tokens": form.get("daily_tokens", "")}  # read as !module config reads it
    errors = await page.save(values, person, {"daily_tokens": "daily-tokens"}, "budget-form")
    if errors:
        return await page.show(400, errors=errors, typed=form)
    return await page.show(notice="Saved the daily budget.")


@router.post("/c/{community_id}/ai/providers", dependencies=ADMIN)
async def save_providers(page: PageOf, person: SignedIn) -> Response:
    form = await form_of(page.request)
    if await page.config() is None:
        return await page.show(409)
    chosen = [form.get(f"provider_{place}", "") for place in range(1, len(PROVIDERS) + 1)]
    values: dict[str, Any] = {"provider_order": [name for name in chosen if name]}
    fields = {"provider_order": "provider-1"}
    for name in PROVIDERS:
        values[f"model_{name}"] = form.get(f"model_{name}", "")
        fields[f"model_{name}"] = f"model-{name}"
    errors = await page.save(values, person, fields, "providers-form")
    if errors:
        return await page.show(400, errors=errors, typed=form)
    return await page.show(notice="Saved the providers.")


@router.post("/c/{community_id}/ai/mcp", dependencies=ADMIN)
async def add_server(page: PageOf, person: SignedIn) -> Response:
    """Add an MCP server, by URL or by the name of a command the operator allows."""
    form = await form_of(page.request)
    config = await page.config()
    if config is None:
        return await page.show(409)
    name, url, command = form.get("name", ""), form.get("url", ""), form.get("command", "")
    errors: Errors = {}
    if not name:
        errors["mcp-name"] = "Give the server a name."
    if bool(url) == bool(command):
        errors["mcp-url"] = "Give the server's URL, or choose a command (not both)."
    if not errors:
        server = {"name": name, **({"url": url} if url else {"command": command})}
        at = f"mcp_servers.{len(servers_of(config))}"
        fields = {
            f"{at}.name": "mcp-name",
            f"{at}.url": "mcp-url",
            f"{at}.command": "mcp-command",
            at: "mcp-url",
            "mcp_tools": "mcp-tools",
        }
        try:
            values = with_server(config, server, tool_names(form.get("tools", ""), name))
        except WaddleError as exc:
            errors = {"mcp-name": sentence(str(exc))}
        else:
            errors = await page.save(values, person, fields, "mcp-form")
    if errors:
        return await page.show(400, errors=errors, typed=form)
    return await page.show(notice=f"Added the MCP server {name}.")


@router.post("/c/{community_id}/ai/mcp/tools", dependencies=ADMIN)
async def set_tools(page: PageOf, person: SignedIn) -> Response:
    """Set the tools of a server the model may call: typed (``tools``), or ticked in a
    check's list (``tool``, once for each)."""
    data = await page.request.form()
    form = await form_of(page.request)
    config = await page.config()
    if config is None:
        return await page.show(409)
    name = form.get("server", "")
    ticked = [value for value in data.getlist("tool") if isinstance(value, str)]
    tools = tool_names(" ".join(ticked) if "ticked" in form else form.get("tools", ""), name)
    field_id = f"tools-{name}"
    try:
        values = with_tools(config, name, tools)
    except WaddleError as exc:
        return await page.show(404, errors={"mcp-list": sentence(str(exc))})
    errors = await page.save(values, person, {"mcp_tools": field_id}, field_id)
    if errors:
        return await page.show(400, errors=errors, typed={field_id: form.get("tools", "")})
    said = ", ".join(tools) or "none"
    return await page.show(notice=f"The model may call these tools of {name}: {said}.")


@router.post("/c/{community_id}/ai/mcp/remove", dependencies=ADMIN)
async def remove_server(page: PageOf, person: SignedIn) -> Response:
    form = await form_of(page.request)
    config = await page.config()
    if config is None:
        return await page.show(409)
    name = form.get("server", "")
    try:
        values = without_server(config, name)
    except WaddleError as exc:
        return await page.show(404, errors={"mcp-list": sentence(str(exc))})
    errors = await page.save(values, person, {}, "mcp-list")
    if errors:
        return await page.show(400, errors=errors)
    return await page.show(notice=f"Removed the MCP server {name} and its tools.")


@router.post("/c/{community_id}/ai/mcp/check", dependencies=ADMIN)
async def check_server(page: PageOf, servers: Servers) -> Response:
    """List the tools the server offers now (a server that cannot be reached says so)."""
    form = await form_of(page.request)
    config = await page.config()
    if config is None:
        return await page.show(409)
    name = form.get("server", "")
    found = [server for server in servers_of(config) if server.get("name") == name]
    if not found:
        return await page.show(404, errors={"mcp-list": f"There is no server named {name} here."})
    try:
        checked = Checked(name, tools=await servers.check(server_spec(found[0])))
    except ServerUnavailable as exc:
        checked = Checked(name, problem=sentence(str(exc)))
    return await page.show(checked=checked)
