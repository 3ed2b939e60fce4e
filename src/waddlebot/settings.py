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

from pydantic_settings import BaseSettings, SettingsConfigDict

from waddlebot.core.settings import CoreSettings, ProcessSettings
from waddlebot.features.calendar.settings import CalendarSettings
from waddlebot.features.modulestore.settings import ModuleStoreSettings
from waddlebot.features.overlay.settings import OverlaySettings
from waddlebot.platforms.discord.settings import DiscordSettings
from waddlebot.platforms.slack.settings import SlackSettings
from waddlebot.platforms.twitch.settings import TwitchSettings


# pydantic takes the fields of the last base first: the core section, then each platform's
# and feature's (one line each), then the process and logging ones. Problems with the
# settings are told in that order. BaseSettings comes first, so its reading of the
# environment wins.
class Settings(
    BaseSettings,
    ProcessSettings,
    ModuleStoreSettings,
    OverlaySettings,
    CalendarSettings,
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
