"""The music feature: the ``music`` module (a marketplace module, on where a community
enables it) over the database's song queue, with YouTube as its source."""

from __future__ import annotations

import httpx2

from waddlebot.core.clock import SystemClock
from waddlebot.core.services import Key
from waddlebot.features.feature import Feature, Host, Job, Route
from waddlebot.features.music.module import build_music_module
from waddlebot.features.music.player import Player
from waddlebot.features.music.queue import SongQueue
from waddlebot.features.music.settings import MusicSettings
from waddlebot.features.music.source_choice import SourceChoice
from waddlebot.features.music.spotify import api as spotify_api
from waddlebot.features.music.spotify.wiring import SPOTIFY, build_spotify
from waddlebot.features.music.votes import Cooldowns, SkipVotes
from waddlebot.features.music.youtube import YouTube
from waddlebot.features.shared import OVERLAYS

SONG_QUEUE: Key[SongQueue] = Key("song queue")
YOUTUBE: Key[YouTube] = Key("youtube")
PLAYER: Key[Player] = Key("player")  # what the overlay's player will call when a song ends
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
    player = host.provide(PLAYER, Player(queue, host.find(OVERLAYS)))
    spotify = host.provide(SPOTIFY, build_spotify(host, http, queue, player))
    host.add_module(
        build_music_module(
            queue,
            SourceChoice(youtube, [spotify.sources]),
            SkipVotes(cache),
            Cooldowns(cache, SystemClock()),
            spotify_command=spotify.chat.command,
            on_start=spotify.follower.started,
        )
    )


FEATURE = Feature(
    "music",
    setup,
    always_on=False,
    settings=MusicSettings,
    routes=(Route(spotify_api.router), Route(spotify_api.oauth_router)),
    jobs=(Job("music.spotify", 0, lambda host: host.need(SPOTIFY).follower.tick()),),
)
