"""Settings from ``WADDLEBOT_*`` environment variables and an optional ``.env`` file.

Every field is documented in ``docs/configuration.md``; a test keeps the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from waddlebot.core.errors import ConfigurationError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WADDLEBOT_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # a traceback of a bad setting must not show a secret
    )

    # where it listens
    host: str = "127.0.0.1"
    port: int = 8000
    http_max_header_bytes: int = Field(
        default=65_536,
        ge=1024,
        le=1_048_576,
        description="request target and headers of one request, in bytes; more: 431",
    )
    http_max_headers: int = Field(
        default=100, ge=10, le=10_000, description="headers in one request; more: 431"
    )

    # storage
    data_dir: str = "./var"
    database_url: str = ""  # empty: an SQLite file in data_dir
    database_replica_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    database_pool_size: int = 10
    database_max_overflow: int = 20
    database_pool_timeout: float = 10.0
    database_echo: bool = False
    auto_migrate: bool | None = None  # None: migrate on start for SQLite only

    # cache, bus, broadcast and rate limits: in-process unless a Redis URL is set
    redis_url: str = ""
    stream_prefix: str = "waddlebot"
    bus_maxlen: int = Field(default=100_000, ge=1)  # events waiting before new ones get 503
    bus_reclaim_idle_ms: int = 30_000

    # router
    router_consumer: str = ""
    router_batch_size: int = 100
    router_workers: int = 1
    default_prefix: str = "!"
    dedupe_ttl_seconds: int = 86_400
    session_ttl_seconds: int = 900
    module_timeout_seconds: float = 5.0
    rate_user_per_30s: int = 20
    rate_entity_per_30s: int = 100
    modules: Annotated[list[str], NoDecode] = Field(default_factory=list)
    remote_modules: Annotated[list[str], NoDecode] = Field(default_factory=list)
    module_secret: SecretStr = SecretStr("")

    # the scheduler (timers, purging expired labels): router processes elect one leader
    scheduler_tick_seconds: float = Field(
        default=5.0, gt=0, description="how often the scheduler renews its lease and runs jobs"
    )
    scheduler_lease_ttl_seconds: float = Field(
        default=20.0, gt=0, description="how long a silent leader keeps the scheduler lease"
    )

    # the calendar module's iCalendar feed
    calendar_public_url: str = Field(
        default="",
        description="base URL calendar apps fetch feeds from; empty: http://<host>:<port>",
    )

    # platforms whose collectors can deliver private messages (for verification codes)
    direct_message_platforms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["console"]
    )

    # security
    api_key: SecretStr = SecretStr("")
    secret_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Fernet keys that encrypt secrets at rest, newest first (comma-separated)",
    )

    # Twitch (the collector runs when a client id is set)
    twitch_client_id: str = ""
    twitch_client_secret: SecretStr = SecretStr("")
    twitch_transport: Literal["websocket", "webhook"] = "websocket"
    twitch_public_url: str = Field(
        default="", description="https base URL Twitch reaches (webhooks, OAuth redirects)"
    )
    twitch_eventsub_secret: SecretStr = Field(
        default=SecretStr(""), description="webhook signing secret, 10 to 100 ASCII characters"
    )
    twitch_helix_url: str = "https://api.twitch.tv/helix"
    twitch_auth_url: str = "https://id.twitch.tv/oauth2"
    twitch_eventsub_ws_url: str = "wss://eventsub.wss.twitch.tv/ws"

    # Discord (the collector runs when a bot token is set)
    discord_token: SecretStr = SecretStr("")
    discord_application_id: str = ""
    discord_public_key: str = Field(default="", description="for the HTTP interactions endpoint")
    discord_api_url: str = Field(default="", description="REST base URL; empty: Discord's own")
    discord_members_intent: bool = False
    discord_shard_id: int | None = None
    discord_shard_count: int | None = None
    discord_guild_ready_timeout: float = Field(default=2.0, ge=0)
    discord_inline_wait_seconds: float = Field(default=2.0, ge=0, le=2.5)

    # Slack (the collector runs when a signing secret, a bot token or an app token is set)
    slack_signing_secret: SecretStr = SecretStr("")
    slack_bot_token: SecretStr = Field(
        default=SecretStr(""), description="xoxb- token of a single workspace (no OAuth needed)"
    )
    slack_app_token: SecretStr = Field(
        default=SecretStr(""), description="xapp- token: Socket Mode, for no public URL"
    )
    slack_client_id: str = ""
    slack_client_secret: SecretStr = SecretStr("")
    slack_public_url: str = Field(
        default="", description="https base URL Slack reaches (OAuth redirects)"
    )
    slack_api_url: str = Field(default="https://slack.com/api/", description="Web API base URL")
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"
    slack_inline_wait_seconds: float = Field(default=2.0, ge=0, le=2.5)

    # browser-source overlays (the browser_source service; see docs/overlays.md)
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

    # process
    gc_tuning: bool = True  # freeze start-up objects and collect less often (see infra/gc.py)

    # logging
    log_level: str = "INFO"
    log_json: bool | None = None

    @model_validator(mode="after")
    def _database_in_data_dir(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir.rstrip('/')}/waddlebot.db"
        return self

    @model_validator(mode="after")
    def _lease_outlasts_ticks(self) -> Settings:
        tick, ttl = self.scheduler_tick_seconds, self.scheduler_lease_ttl_seconds
        if ttl < 2 * tick:
            raise ConfigurationError(
                f"must be at least twice WADDLEBOT_SCHEDULER_TICK_SECONDS ({tick:g}), so one "
                f"slow tick does not lose the lease (got {ttl:g})",
                setting="WADDLEBOT_SCHEDULER_LEASE_TTL_SECONDS",
                fix=f"Set it to {2 * tick:g} or more, or lower WADDLEBOT_SCHEDULER_TICK_SECONDS.",
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def migrate_on_start(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate

    @property
    def distributed(self) -> bool:
        return bool(self.redis_url)

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

    @property
    def slack_configured(self) -> bool:
        return any(
            secret.get_secret_value()
            for secret in (self.slack_signing_secret, self.slack_bot_token, self.slack_app_token)
        )

    @field_validator(
        "database_replica_urls",
        "modules",
        "remote_modules",
        "direct_message_platforms",
        "secret_keys",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
