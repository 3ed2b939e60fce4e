"""The Twitch section of the settings (``WADDLEBOT_TWITCH_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from waddlebot.core.errors import ConfigurationError


class TwitchSettings(BaseModel):
    """The collector runs when a client id is set."""

    twitch_client_id: str = ""
    twitch_client_secret: SecretStr = SecretStr("")
    twitch_transport: Literal["websocket", "webhook", "conduit"] = "websocket"
    twitch_conduit_shards: int = Field(
        default=4, ge=1, le=20_000, description="shards of the EventSub conduit (conduit transport)"
    )
    twitch_conduit_id: str = Field(
        default="", description="the conduit to use; empty: the client id's own, made if missing"
    )
    twitch_public_url: str = Field(
        default="", description="https base URL Twitch reaches (webhooks, OAuth redirects)"
    )
    twitch_eventsub_secret: SecretStr = Field(
        default=SecretStr(""), description="webhook signing secret, 10 to 100 ASCII characters"
    )
    twitch_helix_url: str = "https://api.twitch.tv/helix"
    twitch_auth_url: str = "https://id.twitch.tv/oauth2"
    twitch_eventsub_ws_url: str = "wss://eventsub.wss.twitch.tv/ws"

    @property
    def twitch_configured(self) -> bool:
        return bool(self.twitch_client_id)

    @field_validator("twitch_eventsub_secret")
    @classmethod
    def _twitch_secret_shape(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret and not (10 <= len(secret) <= 100 and secret.isascii()):
            # the length, never the secret itself
            got = f"{len(secret)}{'' if secret.isascii() else ', not all ASCII'}"
            raise ConfigurationError(
                f"must be 10 to 100 ASCII characters (got {got})",
                fix="Set it to a random string, e.g. `openssl rand -hex 16`.",
            )
        return value
