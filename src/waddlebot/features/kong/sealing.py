"""What seals a new API key for Kong, from the settings: the SecretBox of
``WADDLEBOT_SECRET_KEYS`` while the broker is configured, else nothing (a key stays a hash
only). The one place that decides; a running process provides it as ``KEY_SEALER``."""

from __future__ import annotations

from waddlebot.core.settings import CoreSettings
from waddlebot.features.kong.settings import KongSettings
from waddlebot.infra.secretbox import SecretBox


def key_sealer(settings: CoreSettings) -> SecretBox | None:
    if not settings.section(KongSettings).kong_broker_on:
        return None
    return SecretBox.from_settings(settings)
