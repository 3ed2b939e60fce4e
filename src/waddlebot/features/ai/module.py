"""The ``ai`` module: ``!ai <question>``, answered in the community's persona, cut to fit
the platform, pinging no one."""

from __future__ import annotations

from waddlebot.features.ai.conversation import APOLOGY, CHAT_SCOPE, say_answer
from waddlebot.features.ai.guards import Guards
from waddlebot.features.ai.service import CONFIG_SCHEMA, Assistant
from waddlebot.sdk import Context, Module, UsageError

__all__ = ["APOLOGY", "build_ai_module"]


def build_ai_module(assistant: Assistant, guards: Guards) -> Module:
    module = Module(
        "ai",
        version="1.0.0",
        description="Answers questions with a language model, in the community's persona",
        config_schema=CONFIG_SCHEMA,
        chat=CHAT_SCOPE,
    )

    @module.command(
        "ai",
        usage="<question>",
        description="Ask the bot anything; it remembers the channel's last questions",
    )
    async def ask(ctx: Context) -> None:
        text = ctx.rest.strip()
        if not text:
            raise UsageError("ask something, e.g. !ai what do penguins eat?")
        await say_answer(ctx, assistant, guards, text)

    return module
