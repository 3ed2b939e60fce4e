"""The AI feature: the ``ai`` module and the model providers it asks."""

from __future__ import annotations

import structlog

from waddlebot.features.ai.conversation import listen_in_chat
from waddlebot.features.ai.memory import ChannelMemory
from waddlebot.features.ai.module import build_ai_module
from waddlebot.features.ai.providers import (
    OllamaProvider,
    OpenAIProvider,
    Provider,
    ProviderFailed,
)
from waddlebot.features.ai.service import Assistant
from waddlebot.features.ai.settings import AISettings
from waddlebot.features.feature import Feature, Host

log = structlog.get_logger("waddlebot.ai")

# of the router's module timeout, what the providers may use: the rest is for the memory and
# the reply, so a slow model gets the module's own apology rather than the router's
ANSWER_SHARE = 0.8


async def setup(host: Host) -> None:
    own = host.settings.section(AISettings)
    providers: dict[str, Provider] = {
        "ollama": OllamaProvider(own.ai_ollama_url, timeout=own.ai_request_timeout_seconds),
        "openai": OpenAIProvider(
            own.ai_openai_url,
            own.ai_openai_api_key.get_secret_value(),
            timeout=own.ai_request_timeout_seconds,
            retry_after_max=own.ai_retry_after_max_seconds,
        ),
    }
    for provider in providers.values():
        if "router" in host.services:  # where questions are answered: not on the first one
            try:
                provider.prepare()
            except ProviderFailed as missing:
                log.warning("ai provider missing", provider=provider.name, reason=missing.reason)
        host.on_stop(provider.close)
    assistant = Assistant(
        providers,
        ChannelMemory(host.ports.cache, ttl=own.ai_memory_seconds),
        request_timeout=own.ai_request_timeout_seconds,
        answer_seconds=host.settings.module_timeout_seconds * ANSWER_SHARE,
    )
    module = build_ai_module(assistant)
    listen_in_chat(module, assistant, host.ports.cache)
    host.add_module(module)


FEATURE = Feature("ai", setup, always_on=False, settings=AISettings)
