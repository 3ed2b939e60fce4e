"""The music feature: the ``music`` module (a marketplace module, on where a community
enables it) over the database's song queue, with YouTube and each streamer's own Spotify as
its sources. YouTube songs play in the community's media overlay page (whose player reports
to :data:`PLAYER`), Spotify songs on the streamer's Spotify."""

from __future__ import annotations

import httpx2

from waddlebot.core.clock import SystemClock
from waddlebot.core.services import Key
from waddlebot.features.feature import Feature, Host, Job, PortalPage, Route
from waddlebot.features.music import api, portal
from waddlebot.features.music.bans import MusicBans
from waddlebot.features.music.controls import MUSIC_CONTROLS, MusicControls
from waddlebot.features.music.models import SongRequest
from waddlebot.features.music.module import build_music_module
from waddlebot.features.music.playback import Playback
from waddlebot.features.music.player import Player
from waddlebot.features.music.progress import Progress
from waddlebot.features.music.queue import SongQueue
from waddlebot.features.music.settings import MusicSettings
from waddlebot.features.music.source_choice import SourceChoice
from waddlebot.features.music.spotify import api as spotify_api
from waddlebot.features.music.spotify.wiring import SPOTIFY, build_spotify
from waddlebot.features.music.votes import Cooldowns, SkipVotes
from waddlebot.features.music.youtube import YouTube
from waddlebot.features.music.youtube_playback import YouTubePlayback
from waddlebot.features.shared import IDENTITY, OVERLAYS, PLAYER_REPORTS

SONG_QUEUE: Key[SongQueue] = Key("song queue")
YOUTUBE: Key[YouTube] = Key("youtube")
PLAYER: Key[Player] = Key("player")
HTTP_TIMEOUT = 10.0


async def setup(host: Host) -> None:
    own = host.settings.section(MusicSettings)
    http = httpx2.AsyncClient(timeout=HTTP_TIMEOUT)
    host.on_stop(http.aclose)
    cache = host.ports.cache
    youtube = host.provide(
        YOUTUBE,
        YouTube(
            http,
            cache,
            api_url=own.youtube_api_url,
            api_key=own.youtube_api_key.get_secret_value(),
            daily_units=own.youtube_daily_units,
            search_cache_seconds=own.youtube_search_cache_seconds,
        ),
    )
    queue = host.provide(SONG_QUEUE, SongQueue(host.db))
    progress = Progress(cache)
    # each source's player, by the source's name a song carries
    playbacks: dict[str, Playback] = {
        "youtube": YouTubePlayback(queue, progress, host.find(OVERLAYS)),
    }
    player = host.provide(PLAYER, Player(queue, playbacks, progress, host.audit))
    host.provide(PLAYER_REPORTS, player)
    spotify = host.provide(SPOTIFY, build_spotify(host, http, queue, player))
    playbacks[spotify.follower.source] = spotify.follower
    identity = host.find(IDENTITY)

    async def find_person(platform: str, name: str) -> tuple[str, str] | None:
        found = await identity.find_or_greet(platform, name) if identity else None
        return None if found is None else (found[1].platform_user_id, found[1].name)

    sources = SourceChoice(youtube, [spotify.sources])
    controls = host.provide(
        MUSIC_CONTROLS,
        MusicControls(queue, player, MusicBans(host.db), host.audit, sources, find_person),
    )
    host.add_module(
        build_music_module(
            queue,
            sources,
            SkipVotes(cache),
            Cooldowns(cache, SystemClock()),
            controls=controls,
            spotify_command=spotify.chat.command,
        )
    )


FEATURE = Feature(
    "music",
    setup,
    always_on=False,
    settings=MusicSettings,
    routes=(Route(api.router), Route(spotify_api.router), Route(spotify_api.oauth_router)),
    pages=(PortalPage("/music", "Music", portal.router, role="moderator"),),
    jobs=(Job("music.spotify", 0, lambda host: host.need(SPOTIFY).follower.tick()),),
    person_columns=(SongRequest.requester_user_id,),  # songs asked for move with the person
)
