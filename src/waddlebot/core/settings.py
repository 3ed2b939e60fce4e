"""The core section of the settings: what the bot itself needs, whatever platforms and
features it runs. :class:`waddlebot.settings.Settings` composes it with the sections the
platforms and features declare; code below the composition (infra, router, web, platforms,
features) is typed against this section, and reads its own with :meth:`CoreSettings.section`,
so none of it imports the composition (which imports them)."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from waddlebot.core.errors import ConfigurationError

S = TypeVar("S", bound=BaseModel)


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

    # the object store (infra/objects.py): community exports; a directory or an S3 bucket
    object_store: Literal["local", "s3"] = "local"
    object_store_dir: str = ""  # empty: <data_dir>/objects
    object_store_bucket: str = ""
    object_store_prefix: str = ""
    object_store_region: str = ""  # empty: the AWS chain's (AWS_REGION, the profile)
    object_store_endpoint_url: str = ""  # MinIO, LocalStack, Ceph...: not AWS itself

    # cache, bus, broadcast and rate limits: in-process unless a Redis URL is set
    redis_url: str = ""
    stream_prefix: str = "waddlebot"
    bus_maxlen: int = Field(default=100_000, ge=1)  # events waiting before new ones get 503
    bus_reclaim_idle_ms: int = 30_000

    # router
    router_consumer: str = ""
    router_batch_size: int = 100
    router_workers: int = 1
    router_read_block_ms: int = Field(
        default=1000, ge=1, description="how long a worker's read waits for new events"
    )
    default_prefix: str = "!"
    dedupe_ttl_seconds: int = 86_400
    session_ttl_seconds: int = 900
    module_timeout_seconds: float = 5.0
    # external (HTTP) modules: their own timeouts ("name=seconds,..."), a cap on the calls in
    # flight to each, and the circuit breaker (router/breaker.py)
    module_timeouts: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    module_max_concurrent: int = Field(default=16, ge=1)
    module_breaker_failures: int = Field(default=5, ge=1)
    module_breaker_cooldown_seconds: float = Field(default=30.0, ge=0)
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

    # collector replicas sharing a platform's work (gateway shards): each holds a lease per item
    assignment_heartbeat_seconds: float = Field(
        default=2.0, gt=0, description="how often a collector replica renews its leases"
    )
    assignment_lease_ttl_seconds: float = Field(
        default=10.0, gt=0, description="how long a dead replica's work stays with it"
    )

    # platforms whose collectors can deliver private messages (for verification codes)
    direct_message_platforms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["console"]
    )

    # security
    api_key: SecretStr = SecretStr("")
    api_key_cache_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how long a process trusts an API key it checked (a revoked key's grace)",
    )
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
        beat, ttl = self.assignment_heartbeat_seconds, self.assignment_lease_ttl_seconds
        if ttl < 2 * beat:
            raise ConfigurationError(
                f"must be at least twice WADDLEBOT_ASSIGNMENT_HEARTBEAT_SECONDS ({beat:g}), so "
                f"one slow heartbeat does not hand the work over (got {ttl:g})",
                setting="WADDLEBOT_ASSIGNMENT_LEASE_TTL_SECONDS",
                fix=f"Set it to {2 * beat:g} or more, or lower "
                "WADDLEBOT_ASSIGNMENT_HEARTBEAT_SECONDS.",
            )
        return self

    def section(self, kind: type[S]) -> S:
        """These settings as a platform's or feature's section, e.g.
        ``settings.section(TwitchSettings)``: the composed settings are every section."""
        if not isinstance(self, kind):
            raise TypeError(f"these settings have no {kind.__name__} section")
        return self

    @property
    def http_module_timeout(self) -> float:
        """The HTTP client timeout of an external module: the longest a guard may give one
        (the guard keeps each module's own; the client's must not cut it shorter)."""
        return max([self.module_timeout_seconds, *self.module_timeouts.values()])

    def public_base_url(self, configured: str) -> str:
        """Where the world reaches this process: ``configured`` (a section's public URL),
        else its own address (loopback when it listens on every interface)."""
        if configured:
            return configured.rstrip("/")
        host = self.host
        if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a listening address, not a bind
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def migrate_on_start(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate

    @property
    def distributed(self) -> bool:
        return bool(self.redis_url)

    @field_validator("module_timeouts", mode="before")
    @classmethod
    def _name_equals_seconds(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        timeouts: dict[str, float] = {}
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            name, sep, seconds = item.partition("=")
            try:
                timeout = float(seconds) if sep and name.strip() else 0.0
            except ValueError:
                timeout = 0.0
            if not timeout > 0:
                raise ValueError(f"{item!r} is not name=seconds (a positive number)")
            timeouts[name.strip()] = timeout
        return timeouts

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


class ProcessSettings(BaseModel):
    """How the process runs and logs (listed after every other section)."""

    # process
    gc_tuning: bool = True  # freeze start-up objects and collect less often (see infra/gc.py)
    secrets_dir: str = Field(
        default="",
        description="a directory with a file per setting, named like its variable (e.g. "
        "/run/secrets/WADDLEBOT_API_KEY); read from the environment only",
    )

    # logging
    log_level: str = "INFO"
    log_json: bool | None = None
