"""The built-in ``memories`` module: ``!quote``, ``!url``, ``!note``, ``!remind`` and
``!reminders``. Reading is for everyone; who may add, change and remove is decided by the
services (services/memories), the same for chat and the HTTP API. Sending reminders is the
scheduler's job (``ReminderService.fire_due``), not this module's."""

from __future__ import annotations

from waddlebot.features.community.streams import StreamStatus
from waddlebot.features.memories.chat import notes, quotes, reminders, urls
from waddlebot.features.memories.chat.call import Call
from waddlebot.features.memories.service import Memories
from waddlebot.sdk import Context, FindUser, Module, subcommand_args
from waddlebot.sdk.subcommand import add_command


def build_memories_module(
    memories: Memories, find_user: FindUser, streams: StreamStatus | None = None
) -> Module:
    """``find_user`` resolves ``@bob`` on the caller's platform (who said a quote);
    ``streams`` knows the game being played on Twitch (stored with a quote)."""
    module = Module(
        "memories",
        version="1.0.0",
        description="Quotes, links, notes and reminders a community keeps",
    )

    def call(ctx: Context) -> Call:
        return Call(ctx, memories, find_user, streams)

    add_command(
        module,
        "quote",
        quotes.quote,
        call,
        aliases=("quotes",),
        usage=quotes.USAGE,
        description="Shows, searches and (VIPs and up) adds quotes",
        args=subcommand_args(quotes.SUBCOMMANDS, required=False),
    )
    add_command(
        module,
        "url",
        urls.url,
        call,
        aliases=("urls", "links"),
        usage=urls.USAGE,
        description="Lists, searches and (VIPs and up) adds links",
        args=subcommand_args(urls.SUBCOMMANDS),
    )
    add_command(
        module,
        "note",
        notes.note,
        call,
        aliases=("notes",),
        usage=notes.USAGE,
        description="Lists and (VIPs and up) adds notes with #labels",
        args=subcommand_args(notes.SUBCOMMANDS),
    )
    add_command(
        module,
        "remind",
        reminders.remind,
        call,
        usage=reminders.USAGE,
        description="Reminds you (or, moderators, a channel) once or every week or day",
        args=subcommand_args(reminders.SUBCOMMANDS),
    )
    add_command(
        module,
        "reminders",
        reminders.reminders,
        call,
        description="Lists the reminders for channels here, and your own",
    )
    return module
