"""``/api/v1/music/communities/{community_id}``: the moderators' controls of a community's
song requests over HTTP, as in chat (moderator role): the queue and what plays, taking a song
out, skipping, clearing, opening and closing, the volume, pausing and playing on, and the
bans. Every change goes through :class:`~.controls.MusicControls`, which audits it as chat's
does."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from waddlebot.core.errors import Conflict
from waddlebot.features.music.bans import Listed
from waddlebot.features.music.controls import MUSIC_CONTROLS, Listing, MusicControls, ban_label
from waddlebot.features.music.queue import Song
from waddlebot.web.deps import Moderator, needs
from waddlebot.web.numbers import Id

router = APIRouter(prefix="/api/v1/music/communities/{community_id}", tags=["music"])
Controls = Annotated[MusicControls, needs(MUSIC_CONTROLS)]


class RequesterOut(BaseModel):
    platform: str
    name: str


class SongOut(BaseModel):
    id: int = Field(description="the request's id: what DELETE .../queue/{song_id} takes")
    title: str
    channel: str = Field(description="the artist, or the channel that posted it")
    source: str = Field(description="youtube or spotify")
    track_id: str
    link: str
    duration: int | None = Field(description="seconds; null when not known")
    requester: RequesterOut


class PlayingOut(SongOut):
    position: float | None = Field(description="seconds in, as its player last said")
    paused: bool


class QueueOut(BaseModel):
    open: bool = Field(description="whether requests are taken")
    volume: int = Field(description="0 to 100")
    playing: PlayingOut | None
    songs: list[SongOut] = Field(description="the songs waiting, in the order they play")


class SkipOut(BaseModel):
    skipped: SongOut
    playing: SongOut | None = Field(description="what plays now")
    refused: str = Field(description="why the next song's player did not start it; empty if it did")


class ClearedOut(BaseModel):
    removed: int


class OpenIn(BaseModel):
    open: bool


class VolumeIn(BaseModel):
    volume: int = Field(ge=0, le=100)


class BanIn(BaseModel):
    target: str = Field(
        min_length=1,
        max_length=200,
        description="as !sr ban takes it: a song link, @person, or else a channel's name",
    )
    platform: str = Field(
        default="", max_length=16, description="the platform an @person is on (twitch, ...)"
    )


class BanOut(BaseModel):
    id: int
    kind: str = Field(description="song, channel or person")
    value: str = Field(description="what is compared: source:id, the channel's name, platform:id")
    label: str
    created_at: datetime | None


class BansOut(BaseModel):
    bans: list[BanOut] = Field(description="newest first")


def song_out(controls: MusicControls, song: Song) -> SongOut:
    return SongOut(
        id=song.id,
        title=song.title,
        channel=song.channel,
        source=song.source,
        track_id=song.track_id,
        link=controls.link(song),
        duration=song.duration,
        requester=RequesterOut(platform=song.requester.platform, name=song.requester.name),
    )


def queue_out(controls: MusicControls, listing: Listing) -> QueueOut:
    playing = None
    if listing.playing is not None:
        playing = PlayingOut(
            **song_out(controls, listing.playing).model_dump(),
            position=listing.position,
            paused=listing.paused,
        )
    return QueueOut(
        open=listing.open,
        volume=listing.volume,
        playing=playing,
        songs=[song_out(controls, song) for song in listing.waiting],
    )


def ban_out(listed: Listed) -> BanOut:
    ban = listed.ban
    return BanOut(
        id=listed.id, kind=ban.kind, value=ban.value, label=ban.label, created_at=listed.created_at
    )


@router.get("/queue", response_model=QueueOut, summary="The song playing and the queue")
async def get_queue(caller: Moderator, controls: Controls) -> QueueOut:
    return queue_out(controls, await controls.listing(caller.community_id))


@router.delete(
    "/queue/{song_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Take a waiting song out of the queue",
)
async def remove_song(song_id: Id, caller: Moderator, controls: Controls) -> Response:
    await controls.remove(caller.community_id, song_id, actor=caller.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/queue", response_model=ClearedOut, summary="Empty the queue (as !sr clear)")
async def clear_queue(caller: Moderator, controls: Controls) -> ClearedOut:
    return ClearedOut(removed=await controls.clear(caller.community_id, actor=caller.actor))


@router.post("/skip", response_model=SkipOut, summary="Skip the song playing (as !skip)")
async def skip(caller: Moderator, controls: Controls) -> SkipOut:
    done = await controls.skip(caller.community_id, actor=caller.actor)
    following = song_out(controls, done.following) if done.following else None
    return SkipOut(skipped=song_out(controls, done.song), playing=following, refused=done.refused)


@router.put("/open", response_model=QueueOut, summary="Take requests or not (!sr open, close)")
async def set_open(body: OpenIn, caller: Moderator, controls: Controls) -> QueueOut:
    await controls.set_open(caller.community_id, body.open, actor=caller.actor)
    return await get_queue(caller, controls)


@router.put("/volume", response_model=QueueOut, summary="Set the player's volume (as !volume)")
async def set_volume(body: VolumeIn, caller: Moderator, controls: Controls) -> QueueOut:
    await controls.set_volume(caller.community_id, body.volume, actor=caller.actor)
    return await get_queue(caller, controls)


@router.post("/pause", response_model=QueueOut, summary="Pause the song playing (as !pause)")
async def pause(caller: Moderator, controls: Controls) -> QueueOut:
    await controls.pause(caller.community_id, actor=caller.actor)
    return await get_queue(caller, controls)


@router.post("/play", response_model=QueueOut, summary="Play the song paused on (as !play)")
async def play(caller: Moderator, controls: Controls) -> QueueOut:
    await controls.resume(caller.community_id, actor=caller.actor)
    return await get_queue(caller, controls)


@router.get("/bans", response_model=BansOut, summary="What is banned from song requests")
async def bans(caller: Moderator, controls: Controls) -> BansOut:
    return BansOut(bans=[ban_out(row) for row in await controls.listed_bans(caller.community_id)])


@router.post(
    "/bans",
    response_model=BanOut,
    status_code=status.HTTP_201_CREATED,
    summary="Ban a song, a channel or a person (as !sr ban)",
)
async def add_ban(body: BanIn, caller: Moderator, controls: Controls) -> BanOut:
    community = caller.community_id
    ban = await controls.ban_named(community, body.target.split(), body.platform, {})
    listed = await controls.ban(community, ban, actor=caller.actor)
    if listed is None:
        raise Conflict(f"{ban_label(ban)} is banned from song requests already")
    return ban_out(listed)


@router.delete(
    "/bans/{ban_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Lift a ban (as !sr unban)"
)
async def remove_ban(ban_id: Id, caller: Moderator, controls: Controls) -> Response:
    await controls.unban_id(caller.community_id, ban_id, actor=caller.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
