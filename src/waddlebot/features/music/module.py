"""The ``music`` module: song requests from any platform into one queue per community
(``!sr``, ``!song``, ``!queue``, ``!wrongsong``, ``!skip``), played by each song's source's
player (:class:`~.player.Player`), and the moderators' controls (``!volume``, ``!pause``,
``!play``, ``!sr clear|open|close|ban|unban``), each audited. Every refusal is one line
saying why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from waddlebot.core.errors import Conflict, LimitReached
from waddlebot.core.permissions import Level
from waddlebot.features.music.bans import Banned
from waddlebot.features.music.controls import (
    BAN_USAGE,
    MusicControls,
    NothingPlaying,
    UnknownPerson,
    ban_label,
)
from waddlebot.features.music.playback import PlaybackError
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
BANNING = ("ban", "unban")
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
        "banned_words": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 50},
            "maxItems": 200,
            "default": [],
            "description": "words a song's title may not have (whole words, any case); in "
            'chat: !module config music banned_words ["word", "two words"]',
        },
        **SPOTIFY_PROPERTIES,
    },
}
# ``!sr spotify <word>``: Spotify's own commands (connect, status, disconnect); True when the
# word was one of them (else the words are a search)
SpotifyCommand = Callable[[Context, str], Awaitable[bool]]
WANTED = "<search words | YouTube link | Spotify link>"  # what !sr takes
EMPTY = f"Nothing is playing; !sr {WANTED} asks for a song."


def requester_of(ctx: Context) -> Requester:
    caller = ctx.request.caller
    if caller is None:
        return Requester(ctx.request.platform, "", "someone")
    return Requester(caller.identity.platform, caller.identity.user_id, caller.name, caller.user_id)


def build_music_module(
    queue: SongQueue,
    sources: SourceChoice,
    votes: SkipVotes,
    cooldowns: Cooldowns,
    *,
    controls: MusicControls,
    spotify_command: SpotifyCommand | None = None,
) -> Module:
    player, bans = controls.player, controls.bans
    module = Module(
        "music",
        version="1.0.0",
        description="Song requests: !sr search words or a YouTube or Spotify link, one queue",
        config_schema=CONFIG_SCHEMA,
    )

    def length(song: Song | Track) -> str:
        return f" ({clock_time(song.duration)})" if song.duration else ""

    def now_playing(song: Song, at: str = "") -> str:
        return (
            f'Now playing "{song.title}"{at or length(song)}, requested by '
            f"{song.requester.name}: {sources.link(song.source, song.track_id)}"
        )

    async def progress(community: int, song: Song) -> str:
        """`` (2:10 of 3:45)`` as its player last said, else its length."""
        kept = await player.progress.of(community, song.id)
        duration = (kept.duration if kept else 0) or song.duration
        if kept is None or not duration:
            return length(song)
        paused = ", paused" if kept.paused else ""
        at = clock_time(int(kept.now(player.progress.clock())))
        return f" ({at} of {clock_time(int(duration))}{paused})"

    def is_moderator(ctx: Context, what: str) -> bool:
        if ctx.caller_level >= Level.MODERATOR:
            return True
        ctx.reply(f"Only {who_may(Level.MODERATOR)} can use {what}.")
        return False

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
        banned = await bans.of(community)
        if banned.person(person):
            ctx.reply("A moderator banned you from song requests here.")
            return
        if not await queue.is_open(community):
            ctx.reply("Song requests are closed right now.")
            return
        wait = await cooldowns.wait_left(community, person, rules.cooldown_seconds)
        if wait:
            ctx.reply(f"Wait {wait}s before your next request.")
            return
        try:
            added = await add(ctx, wanted, rules, person, banned)
        except (SourceError, LimitReached, Conflict, PlaybackError) as refused:
            ctx.reply(str(refused))
            added = False
        if not added:
            await cooldowns.forget(community, person)

    async def add(
        ctx: Context, wanted: str, rules: Rules, person: Requester, banned: Banned
    ) -> bool:
        tracks = await find(ctx, wanted)
        if tracks is None:
            return False
        track, why = first_allowed(tracks, rules, banned.refusal)
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
            await player.start(ctx.request.community_id, added.song)
        elif added.ahead == 1:
            ctx.reply(f'Added "{track.title}"{length(track)}, up next.')
        else:
            ctx.reply(f'Added "{track.title}"{length(track)}, #{added.ahead} in line.')
        return True

    async def moderate(ctx: Context, what: str) -> None:
        community = ctx.request.community_id
        if not is_moderator(ctx, f"!sr {what}"):
            return
        if what == "clear":
            count = await controls.clear(community, actor=ctx.actor)
            ctx.reply(f"Cleared the queue ({count} {'song' if count == 1 else 'songs'}).")
        else:
            await controls.set_open(community, what == "open", actor=ctx.actor)
            ctx.reply(
                f"Song requests are open: !sr {WANTED}."
                if what == "open"
                else "Song requests are closed."
            )

    async def banning(ctx: Context, what: str) -> None:
        if not is_moderator(ctx, f"!sr {what}"):
            return
        community = ctx.request.community_id
        if not " ".join(ctx.args[1:]).strip():
            raise UsageError(f"say what to ban: {BAN_USAGE}")
        try:
            ban = await controls.ban_named(
                community, ctx.args[1:], ctx.request.platform, ctx.config
            )
        except (SourceError, UnknownPerson) as refused:
            ctx.reply(str(refused))
            return
        named = ban_label(ban)
        if what == "ban":
            if not await controls.ban(community, ban, actor=ctx.actor):
                ctx.reply(f"{named} is banned from song requests already.")
                return
            ctx.reply(f"{named} is banned from song requests.")
            return
        if not await controls.unban(community, ban, actor=ctx.actor):
            ctx.reply(f"{named} isn't banned from song requests.")
            return
        again = "may request songs" if ban.kind == "person" else "may be requested"
        ctx.reply(f"{named} {again} again.")

    @module.command(
        "sr",
        usage=WANTED,
        description="Request a song; moderators: !sr clear|open|close, "
        "!sr ban|unban <song link | channel | @person>",
    )
    async def sr(ctx: Context) -> None:
        if len(ctx.args) == 1 and ctx.args[0].lower() in MODERATION:
            await moderate(ctx, ctx.args[0].lower())
            return
        if ctx.args and ctx.args[0].lower() in BANNING:
            await banning(ctx, ctx.args[0].lower())
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
            raise UsageError("say what to play: search words, or a YouTube or Spotify link")
        await request(ctx, wanted[:200], Rules.of(ctx.config))

    @module.command("song", description="What plays now, and who asked for it")
    async def song(ctx: Context) -> None:
        community = ctx.request.community_id
        playing = await queue.playing(community)
        if playing is None:
            ctx.reply(EMPTY)
            return
        ctx.reply(now_playing(playing, await progress(community, playing)))

    @module.command("queue", description="The next songs, and where yours is")
    async def queue_(ctx: Context) -> None:
        person = requester_of(ctx)
        waiting = [s for s in await queue.songs(ctx.request.community_id) if not s.playing]
        if not waiting:
            ctx.reply(f"The queue is empty; !sr {WANTED} adds a song.")
            return
        listed = ", ".join(
            f'{at}. "{s.title}" ({s.requester.name})' for at, s in enumerate(waiting[:SHOWN], 1)
        )
        more = f" and {len(waiting) - SHOWN} more" if len(waiting) > SHOWN else ""
        yours = next(
            (at for at, s in enumerate(waiting, 1) if s.requester.same_person(person)), None
        )
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
        by_moderator = ctx.caller_level >= Level.MODERATOR
        at_once = by_moderator or playing.requester.same_person(person)
        if not at_once:
            counted = await votes.vote(community, playing.id, person)
            if counted is None:
                ctx.reply(f'You voted to skip "{playing.title}" already.')
                return
            if counted < needed:
                ctx.reply(f'Vote to skip "{playing.title}": {counted}/{needed}.')
                return
        skipped = await controls.skip_song(
            community, playing, actor=ctx.actor if by_moderator else None
        )
        following = skipped.following
        then = now_playing(following) if following else "The queue is empty."
        ctx.reply(f'Skipped "{playing.title}". {then}')
        if skipped.refused:
            ctx.reply(skipped.refused)

    async def steer(ctx: Context, steering: Callable[..., Awaitable[Song]], said: str) -> None:
        """Pause or play on the song playing (``steering``: the controls' ``pause`` or
        ``resume``) and say ``said`` (``{title}`` the song's); one line when nothing plays or
        the player refuses."""
        try:
            playing = await steering(ctx.request.community_id, actor=ctx.actor)
        except NothingPlaying:
            ctx.reply(EMPTY)
            return
        except PlaybackError as refused:
            ctx.reply(str(refused))
            return
        ctx.reply(said.format(title=playing.title))

    @module.command("pause", level=int(Level.MODERATOR), description="Pause the song playing")
    async def pause(ctx: Context) -> None:
        await steer(ctx, controls.pause, 'Paused "{title}"; !play goes on.')

    @module.command("play", level=int(Level.MODERATOR), description="Go on playing the song paused")
    async def play(ctx: Context) -> None:
        await steer(ctx, controls.resume, 'Playing "{title}" again.')

    @module.command("volume", usage="[0-100]", description="The player's volume; moderators set it")
    async def volume(ctx: Context) -> None:
        community = ctx.request.community_id
        if not ctx.args:
            ctx.reply(f"The volume is {await controls.volume(community)}.")
            return
        if not is_moderator(ctx, "!volume"):
            return
        wanted = ctx.args[0].removesuffix("%")
        if len(ctx.args) > 1 or not wanted.isdecimal() or int(wanted) > 100:
            raise UsageError("the volume is a number from 0 to 100")
        percent = int(wanted)
        try:
            await controls.set_volume(community, percent, actor=ctx.actor)
        except PlaybackError as refused:
            ctx.reply(str(refused))
            return
        ctx.reply(f"The volume is {percent} now.")

    return module
