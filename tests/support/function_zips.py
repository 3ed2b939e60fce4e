"""Tiny function zips built by hand (standard library only), shaped as the packager's: a
Lambda zip with ``waddlebot_handler.py`` and an OpenWhisk zip with ``__main__.py``. Each has an
echo entry (answers the ModuleRequest with a reply, the manifest request with its manifest),
one that raises and one that sleeps for ``args[0]`` seconds before echoing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

MODULE_NAME = "echo"

MANIFEST = {
    "name": MODULE_NAME,
    "version": "1.0.0",
    "description": "says it back",
    "commands": [{"name": "echo", "description": "say it back", "serverless": True}],
}

_ANSWERS = f"""
import json
import time

MANIFEST = json.loads({json.dumps(json.dumps(MANIFEST))})


def answer(event):
    if event == {{"waddlebot": "manifest"}}:
        return MANIFEST
    text = "echo: " + " ".join(event.get("args", [])) if event.get("args") else "echo"
    return {{"contract_version": 1, "replies": [{{"text": text}}]}}


def explode(event):
    print("about to fail")
    raise ValueError("the dice said no\\n" + "details " * 200)


def slowly(event):
    time.sleep(float(event["args"][0]))
    return answer(event)
"""

_LAMBDA = """
from answers import answer, explode, slowly


def handler(event, context):
    print("handling", context.aws_request_id, context.function_name)
    assert context.get_remaining_time_in_millis() > 0
    return answer(event)


def broken(event, context):
    return explode(event)


def sleepy(event, context):
    return slowly(event)


def invalid(event, context):
    return {"replies": "not a list"}
"""

_OPENWHISK = """
import os

from answers import answer, explode, slowly


def main(args):
    assert os.environ["__OW_ACTIVATION_ID"]
    return answer(args)


def broken(args):
    return explode(args)


def sleepy(args):
    return slowly(args)


def not_a_dict(args):
    return ["a", "list"]
"""


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def lambda_zip(folder: Path) -> Path:
    """Handlers ``waddlebot_handler.handler`` (echo), ``.broken``, ``.sleepy``, ``.invalid``."""
    return _zip(folder / "lambda.zip", {"waddlebot_handler.py": _LAMBDA, "answers.py": _ANSWERS})


def openwhisk_zip(folder: Path) -> Path:
    """``__main__.py`` with ``main`` (echo), ``broken``, ``sleepy``, ``not_a_dict``."""
    return _zip(folder / "openwhisk.zip", {"__main__.py": _OPENWHISK, "answers.py": _ANSWERS})
