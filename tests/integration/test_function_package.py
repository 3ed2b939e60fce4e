"""``waddlebot module package``: the example ``eightball`` module (tests/fixtures/modules)
packaged for AWS Lambda and Apache OpenWhisk by the real command (run in this process), each
zip then imported by a fresh Python that has only the zip and WaddleBot (as a layer gives
it), or only the zip when it bundles its dependencies, and called as the platform calls it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from tests.support import cli
from tests.support.threaded import served_in_thread
from waddlebot.core.contract import ModuleRequest, ModuleResponse
from waddlebot.runtime import Runtime
from waddlebot.serverless import MANIFEST_REQUEST

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "modules"
QUESTION = "will it rain tomorrow?"

# how each platform loads the zip and calls it: Lambda imports the handler's module,
# OpenWhisk runs the zip's __main__.py and calls its main
CALLERS = {
    "lambda": "import waddlebot_handler as entry\ncall = lambda p: entry.handler(p, None)\n",
    "openwhisk": "import runpy, sys\ncall = runpy.run_path(sys.argv[1])['main']\n",
}
CALL = """
import json, sys
{caller}
answer = call(json.load(sys.stdin))
import eightball, waddlebot
print(json.dumps({{"answer": answer, "module": eightball.__file__, "sdk": waddlebot.__file__}}))
"""


def waddlebot_in(cwd: Path, *args: str) -> Result:
    """``waddlebot <args>`` started in ``cwd``, run in this process (the zips, not the
    packaging process, are what these tests are about); the module it imports from ``cwd``
    leaves ``sys.path`` as it was."""
    was, path = Path.cwd(), list(sys.path)
    os.chdir(cwd)
    try:
        done = cli.invoke(args)
    finally:
        os.chdir(was)
        sys.path[:] = path
    assert not cli.traceback_of(done), cli.traceback_of(done)
    return done


def package(target: str, out: Path, *extra: str) -> Result:
    return waddlebot_in(
        FIXTURES, "module", "package", "eightball:module", "--target", target, "--out", str(out),
        *extra,
    )  # fmt: skip


def packaged(target: str, out: Path, *extra: str) -> Path:
    done = package(target, out, *extra)
    assert done.exit_code == 0, done.stderr
    path = out / f"eightball-{target}.zip"
    assert done.stdout.startswith(f"Packaged eightball:module for {target}: {path}")
    return path


def invoke(
    target: str, path: Path, payload: Any, *, cwd: Path, python: list[str] | None = None
) -> dict[str, Any]:
    """``payload`` sent to the packaged function by a fresh Python with ``path`` on its path
    (in a directory where no eightball module lies)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WADDLEBOT_", "PYTHON"))}
    env["PYTHONPATH"] = str(path)
    done = subprocess.run(
        [*(python or [sys.executable]), "-c", CALL.format(caller=CALLERS[target]), str(path)],
        input=json.dumps(payload),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["module"].startswith(str(path)), "the module's code came from the package"
    return result


def eightball_request(**fields: Any) -> dict[str, Any]:
    return ModuleRequest(
        session_id="s1",
        event_id="e1",
        community_id=7,
        entity_id="twitch:1337",
        platform="twitch",
        command="eightball",
        prefix="#",
        args=QUESTION.split(),
        raw_text=f"#eightball {QUESTION}",
        **fields,
    ).model_dump(mode="json")


def expected_answer() -> str:
    sys.path.insert(0, str(FIXTURES))
    try:
        from eightball.answers import CLASSIC, pick
    finally:
        sys.path.remove(str(FIXTURES))
    return f"The 8-ball says: {pick(QUESTION, CLASSIC)}"


@pytest.mark.parametrize("target", ["lambda", "openwhisk"])
def test_the_packaged_module_answers_as_a_function(target: str, tmp_path: Path) -> None:
    path = packaged(target, tmp_path / "dist")
    entry = {"lambda": "waddlebot_handler.py", "openwhisk": "__main__.py"}[target]
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == sorted(
            ["eightball/__init__.py", "eightball/answers.py", "waddlebot-function.json", entry]
        )
        described = json.loads(archive.read("waddlebot-function.json"))
    assert described == {
        "module": "eightball",
        "version": "1.0.0",
        "target": target,
        "spec": "eightball:module",
        "handler": {"lambda": "waddlebot_handler.handler", "openwhisk": "main"}[target],
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "dependencies": "layer",
        "waddlebot": described["waddlebot"],
    }

    payload = eightball_request()
    if target == "openwhisk":  # a web action's arguments
        payload |= {"__ow_method": "post", "__ow_headers": {"x-forwarded-for": "10.0.0.1"}}
    answered = invoke(target, path, payload, cwd=tmp_path)["answer"]
    assert [reply.text for reply in ModuleResponse.model_validate(answered).replies] == [
        expected_answer()
    ]

    manifest = invoke(target, path, MANIFEST_REQUEST, cwd=tmp_path)["answer"]
    assert manifest["name"] == "eightball" and manifest["version"] == "1.0.0"
    (command,) = manifest["commands"]
    assert (command["name"], command["serverless"]) == ("eightball", True)


def test_packaging_again_gives_the_same_bytes(tmp_path: Path) -> None:
    first = packaged("lambda", tmp_path / "one")
    second = packaged("lambda", tmp_path / "two")
    digest = [hashlib.sha256(path.read_bytes()).hexdigest() for path in (first, second)]
    assert digest[0] == digest[1]
    with zipfile.ZipFile(first) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_what_cannot_be_packaged_is_said_in_one_line(tmp_path: Path) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("")
    cases = [
        (
            ("eightball:module", "gcp", tmp_path),
            "unknown target 'gcp': use lambda, openwhisk, lambda-url or openwhisk-web",
        ),
        (("nothere:module", "lambda", tmp_path), "cannot load module 'nothere:module'"),
        (("eightball:nothing", "lambda", tmp_path), "cannot load module 'eightball:nothing'"),
        (("eightball:module", "lambda", in_the_way / "dist"), f"cannot write to {in_the_way}"),
    ]
    for (spec, target, out), said in cases:
        done = waddlebot_in(
            FIXTURES, "module", "package", spec, "--target", target, "--out", str(out)
        )
        assert done.exit_code == 1, done.stderr
        assert done.stderr.count("\n") == 1 and done.stderr.startswith(said), done.stderr
    assert list(tmp_path.iterdir()) == [in_the_way], "nothing written"


def test_a_bad_payload_fails_the_invocation(tmp_path: Path) -> None:
    path = packaged("lambda", tmp_path / "dist")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [sys.executable, "-c", CALL.format(caller=CALLERS["lambda"])],
        input=json.dumps({"command": "eightball"}),
        cwd=tmp_path,
        env=env | {"PYTHONPATH": str(path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "ValueError: the invocation payload is not a ModuleRequest:" in done.stderr
    assert "session_id: Field required" in done.stderr


def test_ctx_store_reaches_the_bot_from_a_function(tmp_path: Path) -> None:
    """A packaged function's ctx.store goes to the bot's store endpoint with the grant the
    request carries, as a module served over HTTP does: the counter goes up across calls."""
    from pydantic import SecretStr

    from tests.support.harness import make_settings, say
    from waddlebot.infra.secretbox import SecretBox

    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db",
        data_dir=str(tmp_path),
        secret_keys=[SecretStr(SecretBox.generate_key())],
    )
    module_dir = tmp_path / "counter"
    module_dir.mkdir()
    (module_dir / "counter.py").write_text(
        "from waddlebot.sdk import Context, Module\n"
        "module = Module('counter')\n\n"
        "@module.command('count', serverless=True)\n"
        "async def count(ctx: Context) -> str:\n"
        "    return str(await ctx.store.community.increment('calls'))\n"
    )
    done = waddlebot_in(
        module_dir, "module", "package", "counter:module", "--target", "lambda", "--out", "dist"
    )
    assert done.exit_code == 0, done.stderr
    script = (
        "import json, sys\n"
        "import waddlebot_handler\n"
        "for line in sys.stdin:\n"
        "    print(json.dumps(waddlebot_handler.handler(json.loads(line), None)))\n"
    )
    with served_in_thread(settings) as app:
        app.run(say(app.runtime, "!ping"))  # the console's community, made by its first line
        community = app.run(_community_of(app.runtime, "console:local"))
        request = ModuleRequest(
            session_id="s1",
            community_id=community,
            entity_id="console:local",
            platform="console",
            command="count",
            prefix="#",
        )
        grant = app.runtime.store_grants.grant("counter", request)
        assert grant is not None
        line = request.model_copy(update={"store": grant}).model_dump_json()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WADDLEBOT_", "PYTHON"))}
        answered = subprocess.run(
            [sys.executable, "-c", script],
            input=f"{line}\n{line}\n",
            cwd=tmp_path,
            env=env
            | {
                "PYTHONPATH": str(module_dir / "dist" / "counter-lambda.zip"),
                # the grant names the address in the settings; the bot is on another port
                "WADDLEBOT_MODULE_STORE_URL": app.url,
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert answered.returncode == 0, answered.stderr
    texts = [json.loads(out)["replies"][0]["text"] for out in answered.stdout.splitlines()]
    assert texts == ["1", "2"], "two warm calls, one pooled client, the bot's store"


async def _community_of(runtime: Runtime, entity_id: str) -> int:
    from waddlebot.infra.db.models import Entity

    async with runtime.db.session() as session:
        entity = await session.get(Entity, entity_id)
    assert entity is not None, f"{entity_id} has no community"
    return entity.community_id


def test_a_zip_with_its_dependencies_needs_nothing_else(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--with-dependencies``: WaddleBot and its dependencies in the zip, for this Python.
    Unpacked as Lambda and OpenWhisk unpack it (compiled extensions do not import from a zip),
    then run by this Python without any site-packages (-S): only the package's directory."""
    cache = getattr(request.config, "cache", None)  # pytest's, kept between runs
    uv_cache = cache.mkdir("uv") if cache is not None else tmp_path / "uv-cache"
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))  # the packaging subprocess inherits it
    path = packaged("lambda", tmp_path / "dist", "--with-dependencies")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        described = json.loads(archive.read("waddlebot-function.json"))
        unpacked = tmp_path / "task"
        archive.extractall(unpacked)
    assert (described["dependencies"], described["architecture"]) == ("bundled", "x86_64")
    assert "waddlebot/sdk/functions.py" in names and "pydantic/__init__.py" in names
    assert not any(name.startswith("bin/") or "__pycache__" in name for name in names)

    answered = invoke(
        "lambda", unpacked, eightball_request(), cwd=tmp_path, python=[sys.executable, "-S"]
    )
    assert answered["sdk"].startswith(str(unpacked)), "waddlebot came from the package"
    assert ModuleResponse.model_validate(answered["answer"]).replies[0].text == expected_answer()
