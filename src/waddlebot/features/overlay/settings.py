"""The overlay section of the settings (``WADDLEBOT_OVERLAY_*``): the browser_source service;
see docs/overlays.md."""

from __future__ import annotations

from pydantic import BaseModel, Field

from waddlebot.core.overlay import MAX_MEDIA_BYTES

MiB = 1_048_576


class OverlaySettings(BaseModel):
    overlay_public_url: str = Field(
        default="", description="base URL OBS opens overlays at; empty: http://<host>:<port>"
    )
    overlay_max_connections: int = Field(
        default=50, ge=1, description="open overlay pages per community, per process"
    )
    overlay_max_message_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    overlay_heartbeat_seconds: float = Field(default=15.0, gt=0)
    overlay_send_queue: int = Field(
        default=64, ge=1, description="updates waiting for one page before it counts as too slow"
    )
    overlay_ticker_per_minute: int = Field(
        default=30, ge=0, description="bot replies a community's ticker shows per minute"
    )
    overlay_media_image_max_bytes: int = Field(
        default=5 * MiB, ge=1024, le=MAX_MEDIA_BYTES, description="largest image one may upload"
    )
    overlay_media_sound_max_bytes: int = Field(
        default=10 * MiB, ge=1024, le=MAX_MEDIA_BYTES, description="largest sound one may upload"
    )
    overlay_media_max_files: int = Field(
        default=50, ge=1, description="uploaded images and sounds a community may keep"
    )
    overlay_media_quota_bytes: int = Field(
        default=100 * MiB, ge=1024, description="bytes of uploads a community may keep"
    )
    overlay_youtube_player_url: str = Field(
        default="https://www.youtube.com",
        pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]+)?$",
        description="where the media page loads YouTube's IFrame Player API (<url>/iframe_api) "
        "and frames its player from; the media page's CSP opens to it alone",
    )
