"""The AI feature: the ``ai`` module and the model providers it asks."""

from __future__ import annotations

import structlog

from waddlebot.features.ai import api, portal
from waddlebot.features.ai.budget import TOKEN_BUDGET, TokenBudget
from waddlebot.features.ai.builtin_tools import BuiltinTools
from waddlebot.features.ai.conversation import listen_in_chat
from waddlebot.features.ai.guards import Guards
from waddlebot.features.ai.limits import AskLimits
from waddlebot.features.ai.mcp_servers import MCP_SERVERS, McpServers
from waddlebot.features.ai.memory import ChannelMemory
from waddlebot.features.ai.moderation import OpenAIModeration
from waddlebot.features.ai.module import build_ai_module
from waddlebot.features.ai.operator import OPERATOR_SETUP, operator_setup
from waddlebot.features.ai.providers import (
    OllamaProvider,
    OpenAIProvider,
    Provider,
    ProviderFailed,
)
from waddlebot.features.ai.service import PROVIDERS, Assistant
from waddlebot.features.ai.settings import AISettings
from waddlebot.features.feature import Feature, Host, PortalPage, Route
from waddlebot.features.shared import TOOLS

log = structlog.get_logger("waddlebot.ai")

# of the router's module timeout, what the providers may use: the rest is for the memory and
# the reply, so a slow model gets the module's own apology rather than the router's
ANSWER_SHARE = 0.8
# and what moderation may use of it after the answer (where a community has it on)
MODERATION_SHARE = 0.15


async def setup(host: Host) -> None:
    own = host.settings.section(AISettings)
    openai = OpenAIProvider(
        own.ai_openai_url,
        own.ai_openai_api_key.get_secret_value(),
        timeout=own.ai_request_timeout_seconds,
        retry_after_max=own.ai_retry_after_max_seconds,
    )
    providers: dict[str, Provider] = {
        "ollama": OllamaProvider(own.ai_ollama_url, timeout=own.ai_request_timeout_seconds),
        "openai": openai,
    }
    budget = host.provide(
        TOKEN_BUDGET,
        TokenBudget(host.ports.cache, operator_daily=own.ai_daily_tokens, providers=PROVIDERS),
    )
    guards = Guards(
        AskLimits(host.ports.ratelimiter, host.ports.cache),
        budget,
        OpenAIModeration(
            openai.client,
            model=own.ai_moderation_model,
            timeout=min(
                own.ai_request_timeout_seconds,
                host.settings.module_timeout_seconds * MODERATION_SHARE,
            ),
        ),
    )
    for provider in providers.values():
        if "router" in host.services:  # where questions are answered: not on the first one
            try:
                provider.prepare()
            except ProviderFailed as missing:
                log.warning("ai provider missing", provider=provider.name, reason=missing.reason)
        host.on_stop(provider.close)
    host.provide(OPERATOR_SETUP, operator_setup(own))
    mcp_servers = host.provide(
        MCP_SERVERS, McpServers(own.ai_mcp_commands, idle_seconds=own.ai_mcp_idle_seconds)
    )
    host.on_stop(mcp_servers.close)
    assistant = Assistant(
        providers,
        ChannelMemory(host.ports.cache, ttl=own.ai_memory_seconds),
        request_timeout=own.ai_request_timeout_seconds,
        answer_seconds=host.settings.module_timeout_seconds * ANSWER_SHARE,
        tool_sources=(BuiltinTools(host, host.need(TOOLS)), mcp_servers),
        tool_seconds=own.ai_tool_timeout_seconds,
        tool_result_chars=own.ai_tool_result_chars,
        spent=guards.spent,
    )
    module = build_ai_module(assistant, guards)
    listen_in_chat(module, assistant, guards, host.ports.cache)
    host.add_module(module)


FEATURE = Feature(
    "ai",
    setup,
    always_on=False,
    routes=(Route(api.router),),
    settings=AISettings,
    pages=(PortalPage("/ai", "AI", portal.router, role="moderator"),),
)
