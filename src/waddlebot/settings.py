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

import os
from functools import lru_cache
from pathlib import Path

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from waddlebot.core.errors import ConfigurationError
from waddlebot.core.settings import CoreSettings, ProcessSettings
from waddlebot.features.ai.settings import AISettings
from waddlebot.features.calendar.settings import CalendarSettings
from waddlebot.features.community.settings import BackupSettings
from waddlebot.features.dashboard.settings import DashboardSettings
from waddlebot.features.identity.settings import IdentitySettings
from waddlebot.features.kong.settings import KongSettings
from waddlebot.features.modulestore.settings import ModuleStoreSettings
from waddlebot.features.music.settings import MusicSettings
from waddlebot.features.overlay.settings import OverlaySettings
from waddlebot.infra.tracing.settings import TracingSettings
from waddlebot.mcp_server.settings import McpSettings
from waddlebot.platforms.discord.settings import DiscordSettings
from waddlebot.platforms.slack.settings import SlackSettings
from waddlebot.platforms.twitch.settings import TwitchSettings
from waddlebot.serverless.settings import ServerlessSettings


# pydantic takes the fields of the last base first: the core section, then each platform's
# and feature's (one line each), then the process and logging ones. Problems with the
# settings are told in that order. BaseSettings comes first, so its reading of the
# environment wins.
class Settings(
    BaseSettings,
    ProcessSettings,
    TracingSettings,
    McpSettings,
    ServerlessSettings,
    KongSettings,
    MusicSettings,
    ModuleStoreSettings,
    OverlaySettings,
    CalendarSettings,
    DashboardSettings,
    IdentitySettings,
    BackupSettings,
    AISettings,
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment, then ``.env``, then the files of ``WADDLEBOT_SECRETS_DIR`` (Docker
        and Kubernetes secrets mounted as files): a variable set wins over a file."""
        sources = [init_settings, env_settings, dotenv_settings]
        directory = secrets_dir(os.environ)
        if directory is not None:
            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=directory))
        return tuple(sources)


SECRETS_DIR_VARIABLE = "WADDLEBOT_SECRETS_DIR"


def secrets_dir(environ: os._Environ[str] | dict[str, str]) -> Path | None:
    """The directory ``WADDLEBOT_SECRETS_DIR`` names, or None when it is unset."""
    value = environ.get(SECRETS_DIR_VARIABLE, "").strip()
    if not value:
        return None
    path = Path(value)
    if not path.is_dir():
        raise ConfigurationError(
            f"names {value}, which is not a directory",
            setting=SECRETS_DIR_VARIABLE,
            fix="Mount the secrets there (a file per setting, named like its variable), or "
            "unset it.",
        )
    return path


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
