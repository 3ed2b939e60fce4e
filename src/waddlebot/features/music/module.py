"""The ``music`` module: song requests from any platform into one queue per community
(``!sr``, ``!song``, ``!queue``, ``!wrongsong``, ``!skip``), what plays shown on the media
overlay. Every refusal is one line saying why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from waddlebot.core.errors import Conflict, LimitReached
from waddlebot.core.permissions import Level
from waddlebot.features.music.player import CLEAR
from waddlebot.features.music.player import now_playing as playing_update
from waddlebot.features.music.queue import Requester, Song, SongQueue
from waddlebot.features.music.rules import LEVELS, Rules, clock_time, first_allowed
from waddlebot.features.music.source_choice import SourceChoice
from waddlebot.features.music.sources import SourceError, Track
from waddlebot.features.music.spotify.config import SPOTIFY_PROPERTIES
from waddlebot.features.music.votes import Cooldowns, SkipVotes
from waddlebot.sdk import Context, Module, UsageError
from waddlebot.sdk.groups import who_may

SHOWN = 5  # songs !queue lists
MODERATION = ("clear", "open", "close")
CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_seconds": {
            "type": "integer",
            "minimum": 0,
            "maximum": 86_400,
            "default": 600,
            "description": "the longest song allowed, in seconds (0: any length)",
        },
        "per_person": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "default": 3,
            "description": "songs one person may have in the queue (0: no limit)",
        },
        "max_queue": {
            "type": "integer",
            "minimum": 0,
            "maximum": 500,
            "default": 50,
            "description": "songs the queue holds (0: the most it lists, 500)",
        },
        "min_level": {
            "type": "string",
            "enum": list(LEVELS),
            "default": "everyone",
            "description": "who may request songs",
        },
        "cooldown_seconds": {
            "type": "integer",
            "minimum": 0,
            "maximum": 86_400,
            "default": 30,
            "description": "a person's wait between two requests",
        },
        "region": {
            "type": "string",
            "pattern": "^([A-Za-z]{2})?$",
            "default": "US",
            "description": "the country the stream plays in (ISO 3166 code): videos blocked "
            "there are refused; empty: not checked",
        },
        "skip_votes": {
            "type": "integer",
            "minimum": 1,
            "maximum": 1000,
            "default": 3,
            "description": "viewers' !skip votes that skip a song",
        },
        **SPOTIFY_PROPERTIES,
    },
}
# ``!sr spotify <word>``: Spotify's own commands (connect, status, disconnect); True when the
# word was one of them (else the words are a search)
SpotifyCommand = Callable[[Context, str], Awaitable[bool]]
# a request that plays at once, handed to its source's player (Spotify: the streamer's own)
OnStart = Callable[[Context, Song], Awaitable[None]]
EMPTY = "Nothing is playing; !sr <search words | YouTube link> asks for a song."


def requester_of(ctx: Context) -> Requester:
    caller = ctx.request.caller
    if caller is None:
        return Requester(ctx.request.platform, "", "someone")
    return Requester(caller.identity.platform, caller.identity.user_id, caller.name)


def build_music_module(
    queue: SongQueue,
    sources: SourceChoice,
    votes: SkipVotes,
    cooldowns: Cooldowns,
    spotify_command: SpotifyCommand | None = None,
    on_start: OnStart | None = None,
) -> Module:
    module = Module(
        "music",
        version="1.0.0",
        description="Song requests: !sr a YouTube link or search words, one queue for chat",
        config_schema=CONFIG_SCHEMA,
    )

    def length(song: Song | Track) -> str:
        return f" ({clock_time(song.duration)})" if song.duration else ""

    def now_playing(song: Song) -> str:
        return (
            f'Now playing "{song.title}"{length(song)}, requested by {song.requester.name}: '
            f"{sources.link(song.source, song.track_id)}"
        )

    def show(ctx: Context, song: Song | None) -> None:
        ctx.overlay.show("media", playing_update(song) if song is not None else CLEAR)

    async def find(ctx: Context, wanted: str) -> list[Track] | None:
        """The candidates for what was typed; None when there are none (the caller told)."""
        picked = sources.pick(ctx.request.community_id, wanted, ctx.config)
        source, linked = picked.source, picked.linked
        ids = [linked] if linked is not None else await source.search(wanted)
        tracks = await source.tracks(ids)
        if not tracks:
            ctx.reply(picked.missing if linked is not None else picked.nothing_for(wanted))
            return None
        return tracks

    async def request(ctx: Context, wanted: str, rules: Rules) -> None:
        community, person = ctx.request.community_id, requester_of(ctx)
        if ctx.caller_level < rules.min_level:
            ctx.reply(f"Only {who_may(rules.min_level)} can request songs here.")
            return
        if not await queue.is_open(community):
            ctx.reply("Song requests are closed right now.")
            return
        wait = await cooldowns.wait_left(community, person, rules.cooldown_seconds)
        if wait:
            ctx.reply(f"Wait {wait}s before your next request.")
            return
        try:
            added = await add(ctx, wanted, rules, person)
        except (SourceError, LimitReached, Conflict) as refused:
            ctx.reply(str(refused))
            added = False
        if not added:
            await cooldowns.forget(community, person)

    async def add(ctx: Context, wanted: str, rules: Rules, person: Requester) -> bool:
        tracks = await find(ctx, wanted)
        if tracks is None:
            return False
        track, why = first_allowed(tracks, rules)
        if track is None:
            ctx.reply(why or "That can't be played here.")
            return False
        added = await queue.add(
            ctx.request.community_id,
            track,
            person,
            per_person=rules.per_person,
            most=rules.max_queue,
        )
        if added.started:
            ctx.reply(now_playing(added.song))
            show(ctx, added.song)
            if on_start is not None:
                await on_start(ctx, added.song)
        elif added.ahead == 1:
            ctx.reply(f'Added "{track.title}"{length(track)}, up next.')
        else:
            ctx.reply(f'Added "{track.title}"{length(track)}, #{added.ahead} in line.')
        return True

    async def moderate(ctx: Context, what: str) -> None:
        community = ctx.request.community_id
        if ctx.caller_level < Level.MODERATOR:
            ctx.reply(f"Only {who_may(Level.MODERATOR)} can use !sr {what}.")
        elif what == "clear":
            count = await queue.clear(community)
            show(ctx, None)
            ctx.reply(f"Cleared the queue ({count} {'song' if count == 1 else 'songs'}).")
        else:
            await queue.set_open(community, what == "open")
            ctx.reply(
                "Song requests are open: !sr <search words | YouTube link>."
                if what == "open"
                else "Song requests are closed."
            )

    @module.command(
        "sr",
        usage="<search words | YouTube link>",
        description="Request a song; moderators: !sr clear, !sr open, !sr close",
    )
    async def sr(ctx: Context) -> None:
        if len(ctx.args) == 1 and ctx.args[0].lower() in MODERATION:
            await moderate(ctx, ctx.args[0].lower())
            return
        if (
            spotify_command is not None
            and len(ctx.args) == 2
            and ctx.args[0].lower() == "spotify"
            and await spotify_command(ctx, ctx.args[1].lower())
        ):
            return
        wanted = " ".join(ctx.args).strip()
        if not wanted:
            raise UsageError("say what to play: search words or a YouTube link")
        await request(ctx, wanted[:200], Rules.of(ctx.config))

    @module.command("song", description="What plays now, and who asked for it")
    async def song(ctx: Context) -> None:
        playing = await queue.playing(ctx.request.community_id)
        ctx.reply(now_playing(playing) if playing else EMPTY)

    @module.command("queue", description="The next songs, and where yours is")
    async def queue_(ctx: Context) -> None:
        person = requester_of(ctx)
        waiting = [s for s in await queue.songs(ctx.request.community_id) if not s.playing]
        if not waiting:
            ctx.reply("The queue is empty; !sr <search words | YouTube link> adds a song.")
            return
        listed = ", ".join(
            f'{at}. "{s.title}" ({s.requester.name})' for at, s in enumerate(waiting[:SHOWN], 1)
        )
        more = f" and {len(waiting) - SHOWN} more" if len(waiting) > SHOWN else ""
        yours = next((at for at, s in enumerate(waiting, 1) if s.requester == person), None)
        mine = f" Yours is #{yours}." if yours is not None else ""
        ctx.reply(f"Next: {listed}{more}.{mine}")

    @module.command("wrongsong", description="Take your last request out of the queue")
    async def wrongsong(ctx: Context) -> None:
        taken = await queue.withdraw_last(ctx.request.community_id, requester_of(ctx))
        if taken is None:
            ctx.reply("You have no songs waiting in the queue.")
        else:
            ctx.reply(f'Took "{taken.title}" out of the queue.')

    @module.command(
        "skip", description="Skip the song playing: moderators at once, viewers by vote"
    )
    async def skip(ctx: Context) -> None:
        community, person = ctx.request.community_id, requester_of(ctx)
        playing = await queue.playing(community)
        if playing is None:
            ctx.reply(EMPTY)
            return
        needed = Rules.of(ctx.config).skip_votes
        at_once = ctx.caller_level >= Level.MODERATOR or playing.requester == person
        if not at_once:
            counted = await votes.vote(community, playing.id, person)
            if counted is None:
                ctx.reply(f'You voted to skip "{playing.title}" already.')
                return
            if counted < needed:
                ctx.reply(f'Vote to skip "{playing.title}": {counted}/{needed}.')
                return
        following = await queue.advance(community, ended=playing.id)
        show(ctx, following)
        then = now_playing(following) if following else "The queue is empty."
        ctx.reply(f'Skipped "{playing.title}". {then}')

    return module
