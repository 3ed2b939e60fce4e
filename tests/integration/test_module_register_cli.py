"""``waddlebot module register``: an operator adds a module served over HTTP to the catalogue
from the command line."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.support import modules as testkit
from tests.support.cli import invoke
from tests.support.harness import free_port
from waddlebot.infra.secretbox import SecretBox
from waddlebot.sdk.server import create_module_app

SECRET = "a-secret-shared-with-the-module"


@pytest.fixture
def module_url() -> Iterator[str]:
    """The test kit module served by uvicorn in a thread (the command runs its own loop)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_module_app(testkit.module, SECRET.encode()),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # uvicorn sets it from its own thread; nothing to await here
        assert thread.is_alive() and time.monotonic() < deadline, "the module did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_register_adds_the_module_and_a_wrong_secret_is_refused(
    module_url: str, tmp_path: Path
) -> None:
    env = {
        "WADDLEBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db",
        "WADDLEBOT_DATA_DIR": str(tmp_path),
        "WADDLEBOT_SECRET_KEYS": SecretBox.generate_key(),
        "WADDLEBOT_MODULES": "",
    }
    done = invoke(["module", "register", module_url, "--secret", SECRET], env=env)
    assert done.exit_code == 0, done.output
    assert done.stdout == "Registered testkit 1.0.0.\n"
    again = invoke(
        ["module", "register", module_url, "--json"],
        env={**env, "WADDLEBOT_MODULE_SECRET": SECRET},
    )
    assert again.exit_code == 0, again.output
    assert '"versions": [' in again.stdout and '"1.0.0"' in again.stdout

    refused = invoke(["module", "register", module_url, "--secret", "not-the-secret"], env=env)
    assert refused.exit_code != 0
    assert "signature" in refused.output and "Traceback" not in refused.output
