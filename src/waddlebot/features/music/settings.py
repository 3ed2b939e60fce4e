"""The music section of the settings (``WADDLEBOT_YOUTUBE_*``, ``WADDLEBOT_SPOTIFY_*``): the
bot's YouTube Data API key and its daily quota, and where Spotify is reached. Spotify apps are
each streamer's own, kept per community. What each community allows (lengths, limits, votes)
is the ``music`` module's own settings (``!module config music ...``); docs/music.md sets the
key and Spotify up."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class MusicSettings(BaseModel):
    youtube_api_key: SecretStr = SecretStr("")
    youtube_api_url: str = Field(
        default="https://www.googleapis.com",
        description="the YouTube Data API's base URL (before /youtube/v3)",
    )
    youtube_daily_units: int = Field(
        default=10_000,
        ge=0,
        description="the API key's daily quota in units (a search costs 100, a video lookup 1)",
    )
    youtube_search_cache_seconds: int = Field(
        default=86_400, ge=0, description="how long a search's results are reused (0: never)"
    )
    spotify_accounts_url: str = Field(
        default="https://accounts.spotify.com",
        description="Spotify's accounts service (before /authorize and /api/token)",
    )
    spotify_api_url: str = Field(
        default="https://api.spotify.com",
        description="the Spotify Web API's base URL (before /v1)",
    )
    spotify_public_url: str = Field(
        default="",
        description="base URL Spotify sends a streamer's browser back to after connecting "
        "(the API's address, as the world reaches it); empty: http://<host>:<port>",
    )
