"""The signature examples of docs/modules.md work as they stand: the JavaScript module (run by
node, with npm's ``standardwebhooks`` as tests/js/package-lock.json pins it) answers the router,
and the Python check accepts a call the router signs and refuses a tampered one.

Skipped only where node is not installed; npm must then reach its registry once."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.integration.test_http_module import make_request
from tests.support.harness import free_port, say
from waddlebot.infra.webhook_signing import sign_message
from waddlebot.router.remote import HttpModuleClient, ModuleCallError
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "modules.md"
JS_DIR = ROOT / "tests" / "js"
NODE = shutil.which("node")
PLAIN_SECRET = "a long random string"
WHSEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def doc_block(pattern: str) -> str:
    """The first fenced block of modules.md after a line matching ``pattern``."""
    text = PAGE.read_text(encoding="utf-8")
    found = re.search(pattern + r".*?\n```\w*\n(.*?)\n```", text, re.DOTALL)
    assert found is not None, f"docs/modules.md has no block after {pattern!r}"
    return found[1] + "\n"


def node_modules() -> Path:
    installed = JS_DIR / "node_modules"
    if not (installed / "standardwebhooks").is_dir():
        npm = shutil.which("npm")
        assert npm is not None, "node is installed without npm"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, timeout=300)
    return installed


@dataclass(frozen=True)
class Served:
    url: str
    secret: str


@pytest.fixture
async def js_module(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    if NODE is None:
        pytest.skip("node is not installed: the JavaScript example is not run")
    secret = getattr(request, "param", PLAIN_SECRET)
    script = tmp_path / "hello-module.js"
    script.write_text(doc_block(r"<!-- node: hello-module\.js -->"), encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "NODE_PATH": str(node_modules()),
        "PORT": str(port),
        "WADDLEBOT_MODULE_SECRET": secret,
    }
    process = await asyncio.create_subprocess_exec(NODE, str(script), env=env)
    try:
        yield Served(f"http://127.0.0.1:{port}", secret)
    finally:
        process.terminate()
        await process.wait()


@pytest.mark.parametrize("js_module", [PLAIN_SECRET, WHSEC_SECRET], indirect=True)
async def test_the_javascript_module_checks_calls_and_signs_answers(js_module: Served) -> None:
    client = await HttpModuleClient.connect(js_module.url, js_module.secret.encode(), attempts=8)
    try:
        assert client.name == "hellojs"  # the manifest's signature checked out
        response = await client.call(make_request("hellojs"))  # and the answer's
        assert [reply.text for reply in response.replies] == ["hello Pingu, from JavaScript"]
    finally:
        await client.close()
    wrong = HttpModuleClient(js_module.url, b"another secret", manifest=client.manifest)
    try:
        with pytest.raises(ModuleCallError, match="401"):
            await wrong.call(make_request("hellojs"))
    finally:
        await wrong.close()


async def test_the_router_calls_the_javascript_module(
    settings: Settings, js_module: Served
) -> None:
    configured = settings.model_copy(
        update={
            "remote_modules": [f"hellojs={js_module.url}"],
            "module_secret": SecretStr(PLAIN_SECRET),
        }
    )
    client = await HttpModuleClient.connect(js_module.url, PLAIN_SECRET.encode(), attempts=8)
    await client.close()  # it listens now
    runtime = await Runtime.start(configured)
    try:
        assert await say(runtime, "!hellojs", user="mia") == ["hello mia, from JavaScript"]
    finally:
        await runtime.stop()


def test_the_python_check_of_modules_md(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WADDLEBOT_MODULE_SECRET", PLAIN_SECRET)
    namespace: dict[str, Any] = {}
    exec(doc_block(r"Verifying a call in Python"), namespace)
    body = make_request("hellojs").model_dump_json().encode()
    headers = sign_message(PLAIN_SECRET.encode(), body)
    assert namespace["check_call"](body, headers)
    assert not namespace["check_call"](body.replace(b"hellojs", b"hellojz"), headers)
