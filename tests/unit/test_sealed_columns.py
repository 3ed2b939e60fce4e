"""Which stored values ``waddlebot secret-key rotate`` re-encrypts: every column marked
``info=SEALED``. A column that looks like it holds a secret must be marked, or say why not."""

from __future__ import annotations

import pytest

from waddlebot.features import load_models
from waddlebot.infra.secret_rotation import sealed_columns
from waddlebot.infra.secretbox import SecretBox, SecretError

# columns whose names sound secret but hold no secret the box encrypted, and why
NOT_SEALED = {
    "api_keys.secret_hash": "a hash of the key: the key itself is never kept",
    "accounts.password_hash": "a password hash: the password is never kept",
    "calendar_feeds.token_hash": "a hash of the feed's token, to find it by",
    "overlay_tokens.token_hash": "a SHA-256 of the token, to find it by",
}
SECRET_WORDS = ("token", "secret", "password", "sealed")


def test_the_sealed_columns_are_the_tokens_and_the_module_secrets() -> None:
    found = {
        f"{table.name}.{column.name}"
        for table, columns in sealed_columns(load_models()).items()
        for column in columns
    }
    assert found == {
        "api_keys.key_sealed",
        "catalogue_modules.secret_sealed",
        "music_spotify_accounts.access_token_sealed",
        "music_spotify_accounts.client_secret_sealed",
        "music_spotify_accounts.refresh_token_sealed",
        "overlay_tokens.token_sealed",
        "platform_tokens.access_token",
        "platform_tokens.refresh_token",
    }


def test_every_column_that_sounds_secret_is_sealed_or_says_why_not() -> None:
    metadata = load_models()
    sealed = {
        f"{t.name}.{c.name}" for t, columns in sealed_columns(metadata).items() for c in columns
    }
    unexplained = [
        name
        for table in metadata.tables.values()
        for column in table.columns
        if any(word in column.name for word in SECRET_WORDS)
        and (name := f"{table.name}.{column.name}") not in sealed | NOT_SEALED.keys()
    ]
    assert unexplained == []


def test_every_table_with_sealed_columns_has_a_one_column_key() -> None:
    """The rotation pages through a table by its key."""
    for table in sealed_columns(load_models()):
        assert len(table.primary_key.columns) == 1, table.name


def test_rotating_keeps_the_value_and_moves_it_to_the_newest_key() -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    sealed = SecretBox([old]).encrypt("oauth:abc")
    both = SecretBox([new, old])
    assert not both.is_current(sealed)
    rotated = both.rotate(sealed)
    assert both.is_current(rotated)
    assert SecretBox([new]).decrypt(rotated) == "oauth:abc"
    with pytest.raises(SecretError):
        SecretBox([SecretBox.generate_key()]).rotate(sealed)
