"""The Discord section of the settings (``WADDLEBOT_DISCORD_*``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class DiscordSettings(BaseModel):
    """The collector runs when a bot token is set."""

    discord_token: SecretStr = SecretStr("")
    discord_application_id: str = ""
    discord_client_secret: SecretStr = Field(
        default=SecretStr(""),
        description="the application's OAuth2 client secret: the portal's sign-in with Discord",
    )
    discord_authorize_url: str = "https://discord.com/oauth2/authorize"
    discord_public_key: str = Field(default="", description="for the HTTP interactions endpoint")
    discord_api_url: str = Field(default="", description="REST base URL; empty: Discord's own")
    discord_members_intent: bool = False
    discord_shard_id: int | None = None
    discord_shard_count: int | None = None
    discord_guild_ready_timeout: float = Field(default=2.0, ge=0)
    discord_inline_wait_seconds: float = Field(default=2.0, ge=0, le=2.5)

    @property
    def discord_configured(self) -> bool:
        return bool(self.discord_token.get_secret_value())
