"""A slash command's first response, within Discord's 3 seconds: the answer itself when the
router gives it in time and it is one message, else a deferral ("thinking..."), the answer
then following as the interaction's follow-ups (:mod:`waddlebot.platforms.answering`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from waddlebot.core.contract import Visibility
from waddlebot.infra.ports import Cache
from waddlebot.platforms.answering import AnswerStates, answers_to
from waddlebot.platforms.discord import DISCORD

CHANNEL_MESSAGE, DEFERRED_MESSAGE = 4, 5  # interaction callback types
EPHEMERAL = 1 << 6  # message flag: only the person who ran the command sees it
TOKEN_TTL = 15 * 60  # an interaction token works this long
MAX_LENGTH = DISCORD.info.max_length
NOTHING_TO_SAY = "Done."  # a command that answered nothing still gets an answer
# nobody is pinged because of what a user typed (`!echo <@id>`, a quote): no @everyone, no
# role, no user; only the person a reply answers (py-cord types it as a TypedDict)
SAFE_MENTIONS: Any = {"parse": [], "replied_user": True}
DEFER: dict[str, Any] = {"type": DEFERRED_MESSAGE}


def interaction_states(cache: Cache) -> AnswerStates:
    return AnswerStates(cache, "discord", ttl=TOKEN_TTL)


def inline_response(
    replies: Sequence[Mapping[str, Any]], interaction_id: str
) -> dict[str, Any] | None:
    """The interaction's first response made of the router's answer, or None when it cannot
    be given inline (more than one message: it is deferred and follows)."""
    mine = answers_to(replies, interaction_id)
    if not mine:
        return {"type": CHANNEL_MESSAGE, "data": {"content": NOTHING_TO_SAY, "flags": EPHEMERAL}}
    if len(mine) > 1 or len(mine[0].text) > MAX_LENGTH:
        return None
    (answer,) = mine
    data: dict[str, Any] = {"content": answer.text, "allowed_mentions": SAFE_MENTIONS}
    if answer.visibility is not Visibility.CHANNEL:
        data["flags"] = EPHEMERAL
    return {"type": CHANNEL_MESSAGE, "data": data}
