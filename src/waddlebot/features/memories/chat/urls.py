"""``!url``: ``add``, ``list``, ``search``, ``remove`` (``del``, ``delete``) and ``!url <n>``."""

from __future__ import annotations

from waddlebot.core.variables import truncate
from waddlebot.features.memories.chat.call import (
    Call,
    Handler,
    numbered_or_subcommand,
    remove_numbered,
    split_word,
)
from waddlebot.features.memories.service import UrlInfo
from waddlebot.sdk import UsageError, joined

USAGE = "<n> | add <url> [title] | list | search <words> | remove <n>"
MAX_REPLY = 500
MAX_LISTED = 400


def shown(link: UrlInfo) -> str:
    """``#4 Rules: https://example.com/rules`` (``#4 https://...`` without a title)."""
    return (
        f"#{link.number} {link.title}: {link.url}" if link.title else f"#{link.number} {link.url}"
    )


async def url(call: Call) -> None:
    await numbered_or_subcommand(
        call,
        call.memories.urls,
        "url 4",
        _HANDLERS,
        lambda found: truncate(f"Link {shown(found)}", MAX_REPLY),
    )


async def _add(call: Call) -> None:
    address, title = split_word(call.rest)
    if not address:
        raise UsageError(f"which link? {call.example('url add https://example.com/rules Rules')}")
    added = await call.memories.urls.add(call.community_id, address, title, author=call.author)
    call.ctx.reply(truncate(f"Added link {shown(added)}", MAX_REPLY))


async def _list(call: Call) -> None:
    if call.rest:
        raise UsageError("list takes nothing after it")
    links = await call.memories.urls.list(call.community_id, newest_first=True)
    if not links:
        call.say(f"No links yet. Add one with {call.prefix}url add <url> [title]")
        return
    call.ctx.reply(f"Links, newest first: {joined([shown(link) for link in links], MAX_LISTED)}")


async def _search(call: Call) -> None:
    if not call.rest:
        raise UsageError(f"search for what? {call.example('url search rules')}")
    links = await call.memories.urls.search(call.community_id, call.rest, newest_first=True)
    if not links:
        call.say(f"No link matches {call.rest!r}")
        return
    call.ctx.reply(f"Links matching: {joined([shown(link) for link in links], MAX_LISTED)}")


async def _remove(call: Call) -> None:
    await remove_numbered(call, call.memories.urls, "url remove 4")


_HANDLERS: dict[str, Handler] = {
    "add": _add,
    "list": _list,
    "search": _search,
    "remove": _remove,
    "del": _remove,
    "delete": _remove,
}
SUBCOMMANDS = ("add", "list", "search", "remove")
