"""Settings from ``WADDLEBOT_*`` environment variables and an optional ``.env`` file.

:class:`Settings` is the core section (:class:`CoreSettings`: where it listens, storage,
router, security, ...) composed with the sections platforms and features declare in their own
``settings.py`` (``platforms/twitch/settings.py``: ``TwitchSettings``, ...). One object reads
and validates every variable, and each field stays a flat attribute
(``settings.twitch_client_id``), as the variables are flat (``WADDLEBOT_TWITCH_CLIENT_ID``).
A test checks that every section declared in a ``settings.py`` is one of the bases
(docs/contributing.md, "Add a platform").

Every field is documented in ``docs/configuration.md``; a test keeps the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from waddlebot.core.errors import ConfigurationError
from waddlebot.features.overlay.settings import OverlaySettings
from waddlebot.platforms.discord.settings import DiscordSettings
from waddlebot.platforms.slack.settings import SlackSettings
from waddlebot.platforms.twitch.settings import TwitchSettings


class CoreSettings(BaseModel):
    """The settings of the bot itself, whatever platforms and features it runs."""

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

    # the calendar module's iCalendar feed (here, not in features/calendar/settings.py: that
    # package's __init__ imports the calendar's services, too much for reading the settings)
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

    @model_validator(mode="after")
    def _database_in_data_dir(self) -> CoreSettings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir.rstrip('/')}/waddlebot.db"
        return self

    @model_validator(mode="after")
    def _lease_outlasts_ticks(self) -> CoreSettings:
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


# pydantic takes the fields of the last base first: the core section, then each platform's
# and feature's (one line each), then the process and logging ones below. Problems with the
# settings are told in that order. BaseSettings comes first, so its reading of the
# environment wins.
class Settings(
    BaseSettings,
    OverlaySettings,
    SlackSettings,
    DiscordSettings,
    TwitchSettings,
    CoreSettings,
):
    """Every setting: the core section composed with the platforms' and features' sections."""

    model_config = SettingsConfigDict(
        env_prefix="WADDLEBOT_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # a traceback of a bad setting must not show a secret
    )

    # process
    gc_tuning: bool = True  # freeze start-up objects and collect less often (see infra/gc.py)

    # logging
    log_level: str = "INFO"
    log_json: bool | None = None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
