"""Spotify's parts for one process, built from the music settings: the store of each
community's app and tokens, the Web API client, the OAuth connect, the source, the player and
the job following what Spotify plays (and showing it on the media page)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

import httpx2

from waddlebot.core.services import Key
from waddlebot.features.feature import Host
from waddlebot.features.music.media_page import MediaPage
from waddlebot.features.music.player import Player
from waddlebot.features.music.queue import SongQueue
from waddlebot.features.music.settings import MusicSettings
from waddlebot.features.music.sources import Source
from waddlebot.features.music.spotify.accounts import SpotifyStore, SpotifyTokens
from waddlebot.features.music.spotify.chat import SpotifyChat
from waddlebot.features.music.spotify.client import SpotifyAccounts, SpotifyApi
from waddlebot.features.music.spotify.config import refuses_explicit
from waddlebot.features.music.spotify.connect import SpotifyConnect
from waddlebot.features.music.spotify.following import SpotifyFollower
from waddlebot.features.music.spotify.playback import SpotifyPlayback
from waddlebot.features.music.spotify.showing import SpotifyShow
from waddlebot.features.music.spotify.source import NAME, SpotifySource, track_id, track_link
from waddlebot.features.shared import OVERLAYS
from waddlebot.infra.secretbox import SecretBox


class SpotifySources:
    """Spotify among the sources (:class:`~waddlebot.features.music.source_choice.CommunitySource`):
    each community searches with its own account."""

    name = NAME
    label = "Spotify"
    missing = "That Spotify track doesn't exist."

    def __init__(self, api: SpotifyApi) -> None:
        self._api = api

    def link_id(self, text: str) -> str | None:
        return track_id(text)

    def link(self, track: str) -> str:
        return track_link(track)

    def for_community(self, community_id: int, config: Mapping[str, Any]) -> Source:
        return SpotifySource(self._api, community_id, refuse_explicit=refuses_explicit(config))


@dataclass(frozen=True, slots=True)
class Spotify:
    store: SpotifyStore
    connect: SpotifyConnect
    playback: SpotifyPlayback
    sources: SpotifySources
    chat: SpotifyChat
    follower: SpotifyFollower


SPOTIFY: Key[Spotify] = Key("spotify")


def build_spotify(
    host: Host, http: httpx2.AsyncClient, queue: SongQueue, player: Player
) -> Spotify:
    settings = host.settings
    own = settings.section(MusicSettings)
    box = cache(partial(SecretBox.from_settings, settings))
    store = SpotifyStore(host.db, box)
    accounts = SpotifyAccounts(http, own.spotify_accounts_url)
    api = SpotifyApi(http, own.spotify_api_url, SpotifyTokens(store, accounts))
    connect = SpotifyConnect(
        box=box,
        cache=host.ports.cache,
        store=store,
        accounts=accounts,
        http=http,
        api_url=own.spotify_api_url,
        audit=host.audit,
        public_url=settings.public_base_url(own.spotify_public_url),
    )
    playback = SpotifyPlayback(api)
    show = SpotifyShow(player.progress, MediaPage(host.find(OVERLAYS)))
    follower = SpotifyFollower(queue, player, playback, store, host.ports.cache, show)
    return Spotify(
        store=store,
        connect=connect,
        playback=playback,
        sources=SpotifySources(api),
        chat=SpotifyChat(store, connect),
        follower=follower,
    )
