"""``!quote``: a random quote, ``!quote <n>``, and ``add``, ``edit``, ``remove`` (``del``,
``delete``), ``search`` and ``by``."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from waddlebot.core.language import unquoted
from waddlebot.core.variables import truncate
from waddlebot.features.memories.chat.call import (
    Call,
    Handler,
    dispatch,
    guarded,
    is_mention,
    leading_number,
    number_of,
    numbered,
    remove_numbered,
    split_word,
)
from waddlebot.features.memories.service import QuoteInfo, Speaker
from waddlebot.sdk import UsageError, joined

USAGE = (
    "[<n>] | add [@user] <text> | edit <n> [@user] <text> | remove <n> | search <words> | by @user"
)
MAX_REPLY = 500
MORE_SHOWN = 5  # other matching numbers named after the one shown


def shown(quote: QuoteInfo, zone: ZoneInfo) -> str:
    """``#12: "text" - bob (Minecraft, 2026-11-27)``."""
    speaker = f" - {quote.said_by}" if quote.said_by else ""
    facts = [quote.game] if quote.game else []
    facts.append(f"{quote.created_at.astimezone(zone):%Y-%m-%d}")
    return f'#{quote.number}: "{quote.text}"{speaker} ({", ".join(facts)})'


async def quote(call: Call) -> None:
    """``!quote``, ``!quote <n>`` or a subcommand."""
    if not call.rest.strip():
        await guarded(call, _random)
    elif (number := leading_number(call, "quote", "quote 12")) is not None:
        await _show(call, number)
    else:
        await dispatch(call, _HANDLERS)


async def _random(call: Call) -> None:
    found, _ = await call.memories.quotes.random(call.community_id)
    if found is None:
        call.say(f"No quotes yet. Add one with {call.prefix}quote add [@user] <text>")
        return
    call.ctx.reply(truncate(f"Quote {shown(found, await call.zone())}", MAX_REPLY))


async def _show(call: Call, number: int) -> None:
    if (found := await numbered(call, call.memories.quotes, number)) is not None:
        call.ctx.reply(truncate(f"Quote {shown(found, await call.zone())}", MAX_REPLY))


async def _speaker_and_text(call: Call, text: str) -> tuple[Speaker | None, str]:
    """``[@user] <text>``: who said it, when named first, and what they said."""
    first, after = split_word(text)
    if is_mention(call.ctx.request.platform, first):
        return await call.speaker(first), unquoted(after)
    return None, unquoted(text)


async def _add(call: Call) -> None:
    said_by, text = await _speaker_and_text(call, call.rest)
    if not text:
        raise UsageError(f"what was said? {call.example('quote add @bob I never lose')}")
    request = call.ctx.request
    added = await call.memories.quotes.add(
        call.community_id,
        text,
        author=call.author,
        said_by=said_by,
        platform=request.platform,
        entity_id=request.entity_id,
        game=await call.game(),
    )
    call.ctx.reply(truncate(f"Added quote {shown(added, await call.zone())}", MAX_REPLY))


async def _edit(call: Call) -> None:
    word, rest = split_word(call.rest)
    number = number_of(word)
    if number is None:
        raise UsageError(f"which quote? {call.example('quote edit 12 the new text')}")
    said_by, text = await _speaker_and_text(call, rest)
    if not text:
        raise UsageError(f"what should quote #{number} say? {call.example('quote edit 12 text')}")
    edited = await call.memories.quotes.edit(
        call.community_id, number, author=call.author, text=text, said_by=said_by
    )
    call.ctx.reply(truncate(f"Edited quote {shown(edited, await call.zone())}", MAX_REPLY))


async def _remove(call: Call) -> None:
    await remove_numbered(call, call.memories.quotes, "quote remove 12")


async def _search(call: Call) -> None:
    if not call.rest:
        raise UsageError(f"search for what? {call.example('quote search pizza')}")
    found, total = await call.memories.quotes.search(
        call.community_id, call.rest, limit=MORE_SHOWN + 1
    )
    if not found:
        call.say(f"No quote matches {call.rest!r}")
        return
    text = f"Quote {shown(found[0], await call.zone())}"
    others = [f"#{q.number}" for q in found[1:]]
    if others:
        left = total - 1 - len(others)
        text += f" (also {', '.join(others)}{f' and {left} more' if left else ''})"
    call.ctx.reply(truncate(text, MAX_REPLY))


async def _by(call: Call) -> None:
    who, more = split_word(call.rest)
    if not is_mention(call.ctx.request.platform, who) or more:
        raise UsageError(f"by whom? {call.example('quote by @bob')}")
    speaker = await call.speaker(who)
    quotes = call.memories.quotes
    found, count = await quotes.random(call.community_id, speaker)
    if found is None:
        call.say(f"No quotes by {speaker.name} yet")
        return
    text = f"Quote {shown(found, await call.zone())}"
    if count > 1:
        numbers = [f"#{n}" for n in await quotes.numbers(call.community_id, speaker)]
        text += f" ({count} by {speaker.name}: {joined(numbers, 120)})"
    call.ctx.reply(truncate(text, MAX_REPLY))


_HANDLERS: dict[str, Handler] = {
    "add": _add,
    "edit": _edit,
    "remove": _remove,
    "del": _remove,
    "delete": _remove,
    "search": _search,
    "by": _by,
}
SUBCOMMANDS = ("add", "edit", "remove", "search", "by")
