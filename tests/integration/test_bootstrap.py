"""First-run chores: the API key written to ``<data_dir>/api-key``."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.support.harness import make_settings
from waddlebot.cli.bootstrap import ensure_api_key, key_file
from waddlebot.features.identity.apikeys import verify_key
from waddlebot.infra.db import Database


async def test_first_key_is_written_readable_by_this_user_only(tmp_path: Path) -> None:
    settings = make_settings(data_dir=str(tmp_path))
    await ensure_api_key(settings)
    path = key_file(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_world_readable_leftover_key_file_is_made_private(tmp_path: Path) -> None:
    settings = make_settings(data_dir=str(tmp_path))
    path = key_file(settings)
    path.write_text("an old key from a deleted database\n")
    path.chmod(0o644)

    await ensure_api_key(settings)  # no keys in the (new) database: a key is created

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    plaintext = path.read_text().strip()
    db = Database(settings.database_url)
    try:
        assert await verify_key(db, plaintext) is not None
    finally:
        await db.close()
