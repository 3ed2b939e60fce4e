"""``waddlebot module new NAME``: a directory with a module of one command, its test (driven by
:mod:`waddlebot.testing`) and a README saying how to run it in-process, over HTTP, and test it.
The generated test passes as generated."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from waddlebot.cli.failures import CommandFailed

NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
EXIT_USAGE = 2  # as click exits for a mistake on the command line

MODULE = '''\
"""{name}: a WaddleBot module."""

from waddlebot.sdk import Context, Module

module = Module("{name}", version="0.1.0", description="Says hello")


@module.command("{name}", usage="[name]", description="Says hello to you, or to someone")
async def hello(ctx: Context) -> str:
    who = ctx.args[0].lstrip("@") if ctx.args else ctx.caller_name
    return f"Hello, {{who}}!"
'''

TEST = '''\
"""Tests of {name}: run `pytest` in this directory."""

import pytest
from {name} import module

from waddlebot.testing import ModuleChat

pytestmark = pytest.mark.asyncio


async def test_it_greets_the_caller() -> None:
    chat = ModuleChat(module)
    assert await chat.say("!{name}", as_="mia") == ["Hello, mia!"]


async def test_it_greets_someone_named() -> None:
    chat = ModuleChat(module)
    assert await chat.say("!{name} @bob") == ["Hello, bob!"]
'''

README = """\
# {name}

A WaddleBot module with one command, `!{name} [name]`. Edit `{name}.py`; the module SDK is
described in WaddleBot's `docs/modules.md`.

## Test it

```sh
pip install pytest pytest-asyncio   # once, beside waddlebot
pytest
```

`test_{name}.py` drives the module with `waddlebot.testing.ModuleChat`: no bot, database or
network.

## Run it in-process

From this directory, so that `{name}` can be imported:

```sh
WADDLEBOT_MODULES={name}:module waddlebot chat --user alice
```

and type `!{name}`. `waddlebot up` loads it the same way.

## Run it over HTTP

```sh
# terminal 1: the module
export WADDLEBOT_MODULE_SECRET='a long random string'
waddlebot serve module:{name}:module --port 8090

# terminal 2: the bot, calling it
export WADDLEBOT_MODULE_SECRET='a long random string'
export WADDLEBOT_REMOTE_MODULES={name}=http://127.0.0.1:8090
waddlebot chat --user alice
```
"""


def check_name(name: str) -> str:
    """``name`` when it can be a module, a command and a Python file; else CommandFailed."""
    if not NAME.fullmatch(name):
        raise CommandFailed(
            f"{name!r} cannot be a module name: use 1 to 32 lower-case letters, digits and _, "
            "starting with a letter",
            EXIT_USAGE,
        )
    if name in sys.stdlib_module_names or name in ("waddlebot", "pytest", "test"):
        raise CommandFailed(
            f"{name!r} is the name of a Python package the module would hide; choose another",
            EXIT_USAGE,
        )
    return name


def scaffold(name: str, parent: Path) -> Path:
    """Write ``parent/name/`` with ``name.py``, ``test_name.py`` and ``README.md``."""
    check_name(name)
    directory = parent / name
    if directory.exists():
        raise CommandFailed(f"{directory} exists already; choose another name or move it away")
    directory.mkdir(parents=True)
    files = {f"{name}.py": MODULE, f"test_{name}.py": TEST, "README.md": README}
    for filename, template in files.items():
        (directory / filename).write_text(template.format(name=name), encoding="utf-8")
    return directory
