"""The ``ai`` module: ``!ai <question>``, answered in the community's persona, cut to fit
the platform, pinging no one."""

from __future__ import annotations

import structlog

from waddlebot.core.permissions import Level
from waddlebot.features.ai.guards import Guards, count
from waddlebot.features.ai.safety import for_chat
from waddlebot.features.ai.service import CONFIG_SCHEMA, Assistant, NoAnswer, Question
from waddlebot.platforms import max_length
from waddlebot.sdk import Context, Module, UsageError

log = structlog.get_logger("waddlebot.ai")

APOLOGY = "Sorry, I can't think right now. Please ask again later."


def build_ai_module(assistant: Assistant, guards: Guards) -> Module:
    module = Module(
        "ai",
        version="1.0.0",
        description="Answers questions with a language model, in the community's persona",
        config_schema=CONFIG_SCHEMA,
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
        request = ctx.request
        question = Question(
            community_id=request.community_id,
            platform=request.platform,
            channel=request.channel_id or request.entity_id,
            asker=ctx.caller_name,
            text=text,
            user_id=request.caller.user_id if request.caller else None,
            level=ctx.caller_level,
        )
        config = ctx.config
        held = await guards.before(
            request.community_id,
            config,
            person=ctx.actor or ctx.caller_name,
            asker=ctx.caller_name,
            moderator=ctx.caller_level >= Level.MODERATOR,
        )
        if held is not None:
            if held:
                ctx.reply(held)
            return
        limit = min(int(config["max_reply_chars"]), max_length(request.platform))
        try:
            answer = await assistant.ask(question, config, limit=limit)
        except NoAnswer as exc:
            log.error(
                "ai gave no answer",
                community_id=request.community_id,
                failures=[str(failure) for failure in exc.failures],
            )
            count("no_answer")
            ctx.reply(APOLOGY)
            return
        said = for_chat(answer.text, platform=request.platform, limit=limit)
        if not said:
            count("no_answer")
            ctx.reply(APOLOGY)
            return
        instead = await guards.vet(request.community_id, config, said)
        if instead is not None:
            ctx.reply(instead)
            return
        count("answered")
        ctx.reply(said)
        await assistant.remember(question, config, answer, said)

    return module
