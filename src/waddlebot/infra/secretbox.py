"""Secrets at rest and signed, expiring tokens, with ``cryptography``'s Fernet (AES-CBC with an
HMAC-SHA256 over everything, and a timestamp inside each token).

Platform tokens are encrypted with it before they reach the database, and the OAuth ``state``
a streamer carries to Twitch and back is sealed with it (so it cannot be forged, read or
reused after it expires). Keys come from ``WADDLEBOT_SECRET_KEYS`` (newest first; older keys
still decrypt, so keys can be rotated). Without one, an embedded install keeps a generated key
in ``<data_dir>/secret-key``; processes that share a Redis must share a configured key.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from waddlebot.core.errors import ConfigurationError
from waddlebot.core.settings import CoreSettings

KEY_FILE = "secret-key"


class SecretError(ValueError):
    """A sealed value that is forged, damaged, for another purpose, or too old."""


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a SecretBox needs at least one key")
        try:
            fernets = [Fernet(key.encode()) for key in keys]
        except ValueError as exc:
            raise ConfigurationError(
                "a key is 32 url-safe base64-encoded bytes",
                setting="WADDLEBOT_SECRET_KEYS",
                fix="Make one with `waddlebot secret-key`.",
            ) from exc
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise SecretError("the secret cannot be decrypted with the configured keys") from exc

    def is_current(self, sealed: str) -> bool:
        """Whether ``sealed`` is encrypted with the newest key already."""
        try:
            self._newest.decrypt(sealed.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, sealed: str) -> str:
        """``sealed`` encrypted again with the newest key (its timestamp kept); a
        :class:`SecretError` when no configured key decrypts it."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken as exc:
            raise SecretError("the secret cannot be decrypted with the configured keys") from exc

    def seal(self, purpose: str, payload: dict[str, Any]) -> str:
        """A token carrying ``payload`` for one ``purpose`` (checked when it is opened)."""
        return self.encrypt(orjson.dumps({"p": purpose, "d": payload}).decode())

    def open(self, purpose: str, token: str, max_age: int) -> dict[str, Any]:
        """The payload of a token sealed for ``purpose`` at most ``max_age`` seconds ago."""
        try:
            raw = self._fernet.decrypt(token.encode(), ttl=max_age)
        except InvalidToken as exc:
            raise SecretError("the token is forged, damaged or expired") from exc
        content = orjson.loads(raw)
        if not isinstance(content, dict) or content.get("p") != purpose:
            raise SecretError("the token was made for something else")
        payload = content.get("d")
        if not isinstance(payload, dict):
            raise SecretError("the token carries nothing")
        return payload

    @classmethod
    def from_settings(cls, settings: CoreSettings) -> SecretBox:
        keys = [key.get_secret_value() for key in settings.secret_keys]
        if keys:
            return cls(keys)
        if settings.distributed:
            raise ConfigurationError(
                "is not set, and processes sharing a Redis must share the key that encrypts "
                "platform tokens",
                setting="WADDLEBOT_SECRET_KEYS",
                fix="Make one with `waddlebot secret-key` and give every process the same.",
            )
        return cls([_key_in(Path(settings.data_dir))])


def _key_in(data_dir: Path) -> str:
    """The embedded install's own key, made on first use (readable by its owner only)."""
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = SecretBox.generate_key()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key
