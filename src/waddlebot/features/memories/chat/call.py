"""One invocation of a memories command: who asks, where, the words after the command (as
typed), and the helpers every subcommand needs."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from waddlebot import platforms
from waddlebot.core import language
from waddlebot.core.errors import WaddleError
from waddlebot.features.community.streams import StreamStatus
from waddlebot.features.memories.common import NumberedService
from waddlebot.features.memories.service import (
    Author,
    Memories,
    MemoriesError,
    Speaker,
    UnknownNumber,
)
from waddlebot.sdk import Context, FindUser, UsageError, sentence

_NUMBER = re.compile(r"^#?(\d{1,9})$")

Info = TypeVar("Info")


class Call:
    def __init__(
        self,
        ctx: Context,
        memories: Memories,
        find_user: FindUser,
        streams: StreamStatus | None,
    ) -> None:
        request = ctx.request
        self.ctx = ctx
        self.memories = memories
        self.find_user = find_user
        self.streams = streams
        self.community_id = request.community_id
        self.prefix = request.prefix or "!"
        self.rest = ctx.rest  # replaced by what follows the subcommand once it is picked

    @property
    def author(self) -> Author:
        caller = self.ctx.request.caller
        return Author(
            name=self.ctx.caller_name,
            user_id=caller.user_id if caller else None,
            level=self.ctx.caller_level,
            actor=self.ctx.actor,
        )

    def example(self, text: str) -> str:
        return f"e.g. {self.prefix}{text}"

    def say(self, text: str) -> None:
        self.ctx.reply(sentence(text))

    def refused(self, exc: WaddleError) -> None:
        """A refusal or a miss (not allowed, a limit, nothing by that number): said plainly,
        without the usage line."""
        self.say(str(exc))

    async def zone(self) -> ZoneInfo:
        return await self.memories.zone(self.community_id)

    async def game(self) -> str:
        """What the place's stream is playing, when the platform says (Twitch, while live)."""
        if self.streams is None:
            return ""
        return (await self.streams.of(self.ctx.request.entity_id)).game or ""

    async def speaker(self, given: str) -> Speaker:
        """Who ``@bob`` (or the platform's mention markup) is: a known user, or just the name
        written."""
        mention = platforms.mentioned_id(self.ctx.request.platform, given)
        name = mention or given.lstrip("@")
        if not name:
            raise UsageError("who? name someone, like @bob")
        user_id = await self.find_user(self.ctx.request.platform, name)
        if mention and user_id is not None:
            name = await self.memories.user_name(user_id) or given
        elif mention:
            name = given
        return Speaker(name, user_id)


def split_word(text: str) -> tuple[str, str]:
    """The first word of ``text`` and the rest, trimmed, whose own spacing is kept."""
    word, rest = language.split_word(text)
    return word, rest.strip()


def number_of(word: str) -> int | None:
    """``5`` or ``#5``; None for anything else."""
    match = _NUMBER.fullmatch(word)
    return int(match[1]) if match else None


def the_number(call: Call, what: str, example: str) -> int:
    """The one number that must follow a subcommand (``remove 5``)."""
    number = leading_number(call, what, example)
    if number is None:
        raise UsageError(f"which {what}? give its number, {call.example(example)}")
    return number


def leading_number(call: Call, what: str, example: str) -> int | None:
    """The number the words start with (``!note 3``), None when they start otherwise; nothing
    may follow it."""
    word, more = split_word(call.rest)
    number = number_of(word)
    if number is not None and more:
        raise UsageError(f"just the {what}'s number, {call.example(example)}")
    return number


async def numbered(call: Call, kept: NumberedService[Info], number: int) -> Info | None:
    """The quote, link or note by that number; None, said plainly, when there is none."""
    found = await kept.get(call.community_id, number)
    if found is None:
        call.refused(UnknownNumber(kept.noun, number))
    return found


async def numbered_or_subcommand(
    call: Call,
    kept: NumberedService[Info],
    example: str,
    handlers: Mapping[str, Handler],
    said: Callable[[Info], str],
) -> None:
    """``!note 3``: the note (link) by that number, as ``said`` puts it; ``!note <subcommand>
    ...``: the subcommand, one of ``handlers``."""
    number = leading_number(call, kept.noun, example)
    if number is None:
        await dispatch(call, handlers)
    elif (found := await numbered(call, kept, number)) is not None:
        call.ctx.reply(said(found))


async def remove_numbered(call: Call, kept: NumberedService[Any], example: str) -> None:
    """``remove <n>``, for quotes, links and notes alike."""
    number = the_number(call, kept.noun, example)
    await kept.remove(call.community_id, number, author=call.author)
    call.say(f"Removed {kept.noun} #{number}")


def is_mention(platform: str, word: str) -> bool:
    return word.startswith("@") or platforms.mentioned_id(platform, word) is not None


Handler = Callable[[Call], Awaitable[None]]


async def dispatch(call: Call, handlers: Mapping[str, Handler]) -> None:
    """Run the subcommand the first word names (in any case), on the words after it."""
    word, call.rest = split_word(call.rest)
    handler = handlers.get(word.lower())
    if handler is None:
        choices = ", ".join(handlers)
        if not word:
            raise UsageError(f"say what to do: {choices}")
        raise UsageError(f"there is no {word!r}; use one of {choices}")
    await guarded(call, handler)


async def guarded(call: Call, handler: Handler) -> None:
    """Run a handler: a mistake becomes the usage line (a refusal, any other kind of
    :class:`WaddleError`, is said plainly by the SDK)."""
    try:
        await handler(call)
    except MemoriesError as exc:
        raise UsageError(str(exc)) from exc
