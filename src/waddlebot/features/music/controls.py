"""The moderators' controls of a community's song requests, one service for every way in:
chat (``!skip``, ``!pause``, ``!play``, ``!volume``, ``!sr clear|open|close|ban|unban``), the
HTTP API (api.py) and the portal's Music page. What is queued, taking one song out, skipping,
clearing, opening and closing, the volume, pausing and playing on, and the bans; each change
is audited here as ``music.<action>``, so chat, the API and the page write the same rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from waddlebot.core.errors import Conflict, NotFound, UserError
from waddlebot.core.services import Key
from waddlebot.features.music.bans import Ban, Listed, MusicBans, channel_key, person_key, song_key
from waddlebot.features.music.playback import DEFAULT_VOLUME, Playback, PlaybackError
from waddlebot.features.music.player import Player
from waddlebot.features.music.progress import Position
from waddlebot.features.music.queue import Song, SongQueue
from waddlebot.features.music.source_choice import SourceChoice
from waddlebot.infra.audit import AuditLog

# the account and name behind "@bob" on a platform, None when nobody known
FindPerson = Callable[[str, str], Awaitable[tuple[str, str] | None]]
Move = Callable[[Playback, int], Awaitable[None]]
MUSIC_CONTROLS: Key[MusicControls] = Key("music controls")
BAN_USAGE = "!sr ban <song link | channel name | @person> (!sr unban ... lifts it)"


class NothingPlaying(Conflict):
    def __init__(self) -> None:
        super().__init__("nothing is playing")


class UnknownPerson(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"I don't know {name} here yet.")


@dataclass(frozen=True, slots=True)
class Listing:
    """A community's queue as its moderators see it."""

    playing: Song | None
    waiting: list[Song]
    position: float | None  # seconds into the song playing, as its player last said
    duration: float | None  # its length as the player knows it, else as its source said
    paused: bool
    open: bool
    volume: int


@dataclass(frozen=True, slots=True)
class Skipped:
    song: Song
    following: Song | None
    refused: str = ""  # the next song's player refused it (the queue moved on anyway)


def ban_label(ban: Ban) -> str:
    """How a reply names a ban: ``The song "X"``, ``The channel x``, or the person."""
    kind = {"song": "The song", "channel": "The channel", "person": ""}[ban.kind]
    return f"{kind} {ban.label}".strip()


class MusicControls:
    def __init__(
        self,
        queue: SongQueue,
        player: Player,
        bans: MusicBans,
        audit: AuditLog,
        sources: SourceChoice,
        find_person: FindPerson,
    ) -> None:
        self.queue = queue
        self.player = player
        self.bans = bans
        self.sources = sources
        self._audit = audit
        self._find_person = find_person

    def link(self, song: Song) -> str:
        return self.sources.link(song.source, song.track_id)

    def _audited(
        self, community_id: int, action: str, actor: str, target: str, **detail: Any
    ) -> None:
        self._audit.change(action, actor, target, community_id, detail or None)

    # ----- the queue --------------------------------------------------------------------

    async def listing(self, community_id: int) -> Listing:
        songs = await self.queue.songs(community_id)
        playing = next((song for song in songs if song.playing), None)
        kept: Position | None = None
        if playing is not None:
            kept = await self.player.progress.of(community_id, playing.id)
        known = kept.duration if kept is not None else 0
        duration = known or (playing.duration if playing is not None else None)
        return Listing(
            playing=playing,
            waiting=[song for song in songs if not song.playing],
            position=kept.now(self.player.progress.clock()) if kept is not None else None,
            duration=float(duration) if duration else None,
            paused=kept.paused if kept is not None else False,
            open=await self.queue.is_open(community_id),
            volume=await self.volume(community_id),
        )

    async def remove(self, community_id: int, song_id: int, *, actor: str) -> Song:
        """Take a waiting song out (``music.remove``)."""
        taken = await self.queue.remove(community_id, song_id)
        if taken is None:
            playing = await self.queue.playing(community_id)
            if playing is not None and playing.id == song_id:
                raise Conflict(f'"{playing.title}" is playing now: skip it instead')
            raise NotFound(f"there is no song #{song_id} waiting in the queue")
        self._audited(community_id, "music.remove", actor, f"song:{taken.id}", title=taken.title)
        return taken

    async def skip(self, community_id: int, *, actor: str) -> Skipped:
        """A moderator skips the song playing at once."""
        playing = await self.queue.playing(community_id)
        if playing is None:
            raise NothingPlaying
        return await self.skip_song(community_id, playing, actor=actor)

    async def skip_song(self, community_id: int, playing: Song, *, actor: str | None) -> Skipped:
        """End ``playing`` and start the next; audited when a moderator (``actor``) did it,
        not for its requester or the viewers' votes (``None``)."""
        following = await self.queue.advance(community_id, ended=playing.id)
        if actor is not None:
            self._audited(
                community_id, "music.skip", actor, f"song:{playing.id}", title=playing.title
            )
        try:
            await self.player.switch(community_id, playing, following)
        except PlaybackError as refused:
            return Skipped(playing, following, str(refused))
        return Skipped(playing, following)

    async def clear(self, community_id: int, *, actor: str) -> int:
        """Empty the queue, stopping what plays; how many songs there were."""
        self._audited(community_id, "music.clear", actor, "queue")
        playing = await self.queue.playing(community_id)
        count = await self.queue.clear(community_id)
        await self.player.switch(community_id, playing, None)
        return count

    async def set_open(self, community_id: int, open_: bool, *, actor: str) -> None:
        if open_:
            self._audited(community_id, "music.open", actor, "queue")
        else:
            self._audited(community_id, "music.close", actor, "queue")
        await self.queue.set_open(community_id, open_)

    # ----- the player -------------------------------------------------------------------

    async def volume(self, community_id: int) -> int:
        now = await self.queue.volume(community_id)
        return DEFAULT_VOLUME if now is None else now

    async def set_volume(self, community_id: int, percent: int, *, actor: str) -> None:
        """Kept for the next songs at once; the song playing is told, and a player refusing
        it is a :class:`PlaybackError` (then nothing is audited)."""
        before = await self.queue.volume(community_id)
        await self.queue.set_volume(community_id, percent)
        playing = await self.queue.playing(community_id)
        if playing is not None:
            await self.player.playback(playing).set_volume(community_id, percent)
        self._audited(community_id, "music.volume", actor, "volume", volume=percent, old=before)

    async def pause(self, community_id: int, *, actor: str) -> Song:
        return await self._steer(community_id, "music.pause", actor, lambda to, c: to.pause(c))

    async def resume(self, community_id: int, *, actor: str) -> Song:
        return await self._steer(community_id, "music.resume", actor, lambda to, c: to.resume(c))

    async def _steer(self, community_id: int, action: str, actor: str, move: Move) -> Song:
        """``move`` the song playing on its source's player and audit ``action``: the song,
        or :class:`NothingPlaying`, or the player's :class:`PlaybackError`."""
        playing = await self.queue.playing(community_id)
        if playing is None:
            raise NothingPlaying
        await move(self.player.playback(playing), community_id)
        self._audited(community_id, action, actor, f"song:{playing.id}", title=playing.title)
        return playing

    # ----- bans -------------------------------------------------------------------------

    async def ban_named(
        self, community_id: int, words: list[str], platform: str, config: Mapping[str, Any]
    ) -> Ban:
        """What ``!sr ban <words>`` names: a song by its link, a person by @name (on
        ``platform``), else a channel by its name. :class:`UnknownPerson` when nobody by that
        name is known there; a :class:`~.sources.SourceError` when the source cannot say."""
        given = " ".join(words).strip()
        if not given:
            raise UserError(f"say what to ban: {BAN_USAGE}")
        picked = self.sources.pick(community_id, given, config)
        if picked.linked is not None and len(words) == 1:
            linked = picked.linked
            tracks = await picked.source.tracks([linked])
            source = picked.source.name
            label = f'"{tracks[0].title}"' if tracks else self.sources.link(source, linked)
            return Ban("song", song_key(source, linked), label)
        if given.startswith(("@", "<@")) and len(words) == 1:
            if not platform:
                raise UserError(f"say on which platform {given} is")
            found = await self._find_person(platform, given)
            if found is None:
                raise UnknownPerson(given)
            account, name = found
            return Ban("person", person_key(platform, account), name)
        return Ban("channel", channel_key(given), given[:200])

    async def listed_bans(self, community_id: int) -> list[Listed]:
        return await self.bans.listed(community_id)

    async def ban(self, community_id: int, ban: Ban, *, actor: str) -> Listed | None:
        """Ban it (``music.ban``); None when it was banned already."""
        listed = await self.bans.add(community_id, ban)
        if listed is not None:
            self._audited(
                community_id, "music.ban", actor, f"{ban.kind}:{ban.value}", label=ban.label
            )
        return listed

    async def unban(self, community_id: int, ban: Ban, *, actor: str) -> bool:
        """Lift it (``music.unban``); False when it was not banned."""
        if not await self.bans.remove(community_id, ban):
            return False
        self._unbanned(community_id, ban, actor)
        return True

    async def unban_id(self, community_id: int, ban_id: int, *, actor: str) -> Ban:
        lifted = await self.bans.remove_id(community_id, ban_id)
        if lifted is None:
            raise NotFound(f"there is no ban #{ban_id} here")
        self._unbanned(community_id, lifted, actor)
        return lifted

    def _unbanned(self, community_id: int, ban: Ban, actor: str) -> None:
        self._audited(
            community_id, "music.unban", actor, f"{ban.kind}:{ban.value}", label=ban.label
        )
