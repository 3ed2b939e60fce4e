"""Settings from ``WADDLEBOT_*`` environment variables and an optional ``.env`` file.

Every field is documented in ``docs/configuration.md``; a test keeps the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WADDLEBOT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # where it listens
    host: str = "127.0.0.1"
    port: int = 8000

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
    bus_maxlen: int = 100_000
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

    # platforms whose collectors can deliver private messages (for verification codes)
    direct_message_platforms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["console"]
    )

    # security
    api_key: SecretStr = SecretStr("")

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
