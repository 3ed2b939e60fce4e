"""``waddlebot module package``: a module as a zip AWS Lambda or Apache OpenWhisk runs.

The zip holds the module's own code (its top-level package, or its single file), a generated
entry (Lambda's ``waddlebot_handler.handler``, OpenWhisk's ``__main__.py`` with ``main``; for
``lambda-url`` and ``openwhisk-web`` the same files, answering signed HTTP requests, the secret
read from the function's ``WADDLEBOT_MODULE_SECRET`` when called, never put in the zip) and
``waddlebot-function.json`` describing it. WaddleBot itself comes from a layer, or, with
``with_dependencies``, is bundled: this process's ``waddlebot`` package and its runtime
dependencies installed by ``uv pip install --target`` for the function's platform, at the
versions installed here. The same input gives the same bytes: entries sorted, timestamps fixed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import waddlebot
from waddlebot.sdk.loader import load_module

TARGETS = ("lambda", "openwhisk", "lambda-url", "openwhisk-web")
ARCHITECTURES = {"x86_64": "x86_64-manylinux_2_28", "arm64": "aarch64-manylinux_2_28"}
ENTRIES = {
    "lambda": "waddlebot_handler.py",
    "openwhisk": "__main__.py",
    "lambda-url": "waddlebot_handler.py",
    "openwhisk-web": "__main__.py",
}
HANDLERS = {
    "lambda": "waddlebot_handler.handler",
    "openwhisk": "main",
    "lambda-url": "waddlebot_handler.handler",
    "openwhisk-web": "main",
}
SIGNED_TARGETS = frozenset({"lambda-url", "openwhisk-web"})
SECRET_VARIABLE = "WADDLEBOT_MODULE_SECRET"  # noqa: S105 - the variable's name, no secret
DESCRIPTION = "waddlebot-function.json"

_SKIPPED_DIRS = frozenset({"__pycache__", "tests", "test"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: the same on every build
_UV_OUTPUT_SHOWN = 2000

LAMBDA_ENTRY = '''\
"""AWS Lambda's entry for the WaddleBot module {name!r}: handler {handler!r}.
Written by `waddlebot module package`; package again rather than edit it."""

from waddlebot.sdk.functions import lambda_handler
from waddlebot.sdk.loader import load_module

handler = lambda_handler(load_module({spec!r}))
'''

LAMBDA_URL_ENTRY = '''\
"""AWS Lambda's entry for the WaddleBot module {name!r} behind a function URL: handler
{handler!r}. Calls are signed: the secret is the function's WADDLEBOT_MODULE_SECRET
environment variable, read when called. Written by `waddlebot module package`; package again
rather than edit it."""

from waddlebot.sdk.functions import lambda_url_handler
from waddlebot.sdk.loader import load_module

handler = lambda_url_handler(load_module({spec!r}))
'''

OPENWHISK_ENTRY = '''\
"""Apache OpenWhisk's entry for the WaddleBot module {name!r}: main(args).{about}
Written by `waddlebot module package`; package again rather than edit it."""

import os
import sys

# the action's directory (or zip) stays importable for imports made later, at call time
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from waddlebot.sdk.functions import {main}  # noqa: E402
from waddlebot.sdk.loader import load_module  # noqa: E402

_main = {main}(load_module({spec!r}))


def main(args):
    return _main(args)
'''


class PackagingError(Exception):
    """The module cannot be packaged; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Packaged:
    path: Path
    description: dict[str, Any]


def package(
    spec: str,
    target: str,
    out_dir: Path,
    *,
    with_dependencies: bool = False,
    python_version: str | None = None,
    arch: str = "x86_64",
) -> Packaged:
    """Build ``out_dir/<module>-<target>.zip`` for the module ``spec``
    (``package.module:attribute``) and say what is in it."""
    if target not in TARGETS:
        raise PackagingError(
            f"unknown target {target!r}: use {', '.join(TARGETS[:-1])} or {TARGETS[-1]}"
        )
    if arch not in ARCHITECTURES:
        raise PackagingError(f"unknown architecture {arch!r}: use {' or '.join(ARCHITECTURES)}")
    python_version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    try:
        module = load_module(spec)
    except Exception as exc:  # the module's own code may raise anything while importing
        raise PackagingError(_one_line(exc, spec)) from exc
    top = spec.partition(":")[0].split(".")[0]
    if f"{top}.py" in ENTRIES.values():
        raise PackagingError(f"a module named {top!r} would clash with the generated entry")
    manifest = module.manifest
    out = _writable(out_dir)

    description = {
        "module": manifest.name,
        "version": manifest.version,
        "target": target,
        "spec": spec,
        "handler": HANDLERS[target],
        "python": python_version,
        "dependencies": "bundled" if with_dependencies else "layer",
        "waddlebot": waddlebot.__version__,
    }
    if with_dependencies:
        description["architecture"] = arch
    if target in SIGNED_TARGETS:
        description["secret_variable"] = SECRET_VARIABLE
    files: dict[str, bytes | Path] = dict(_own_code(top))
    files[ENTRIES[target]] = _entry(target, manifest.name, spec).encode()
    files[DESCRIPTION] = (json.dumps(description, indent=2, sort_keys=True) + "\n").encode()

    with tempfile.TemporaryDirectory(prefix="waddlebot-package-") as scratch:
        if with_dependencies:
            deps = Path(scratch) / "deps"
            _install_dependencies(deps, python_version, ARCHITECTURES[arch])
            for name, path in _tree(deps, skip_top={"bin"}):
                files.setdefault(name, path)  # the module's own files win
            for name, path in _tree(Path(waddlebot.__file__).parent, skip={"__pycache__"}):
                files[f"waddlebot/{name}"] = path
        path = out / f"{manifest.name}-{target}.zip"
        _write_zip(path, files)
    return Packaged(path, description)


def _entry(target: str, name: str, spec: str) -> str:
    if target == "lambda":
        return LAMBDA_ENTRY.format(name=name, spec=spec, handler=HANDLERS[target])
    if target == "lambda-url":
        return LAMBDA_URL_ENTRY.format(name=name, spec=spec, handler=HANDLERS[target])
    if target == "openwhisk":
        return OPENWHISK_ENTRY.format(name=name, spec=spec, main="openwhisk_main", about="")
    about = (
        "\nA raw web action (--web raw); calls are signed: the secret is the parameter "
        "WADDLEBOT_MODULE_SECRET\nbound to the action (or the environment's), read when called."
    )
    return OPENWHISK_ENTRY.format(name=name, spec=spec, main="openwhisk_web_main", about=about)


def _one_line(exc: BaseException, spec: str) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, ValueError) and text.startswith(("cannot load", repr(spec))):
        return text
    return f"cannot load module {spec!r}: {type(exc).__name__}: {text}"


def _writable(out_dir: Path) -> Path:
    """``out_dir``, made if need be; checked before any slow work."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".waddlebot-check-"):
            pass
    except OSError as exc:
        raise PackagingError(
            f"cannot write to {out_dir}: {exc.strerror or exc}; give another --out"
        ) from exc
    return out_dir


def _own_code(top: str) -> Iterator[tuple[str, Path]]:
    """The files of the module's top-level package (or its single file), by their zip names.
    WaddleBot's own modules are WaddleBot's code: nothing of their own to add."""
    if top == "waddlebot":
        return
    imported = importlib.import_module(top)
    locations = list(getattr(imported, "__path__", ()))
    if locations:
        if len(locations) != 1:
            raise PackagingError(
                f"{top!r} is a namespace package spread over {len(locations)} directories; "
                "give it an __init__.py"
            )
        for name, path in _tree(Path(locations[0]), skip=_SKIPPED_DIRS):
            yield f"{top}/{name}", path
        return
    source = Path(getattr(imported, "__file__", None) or "")
    if source.suffix != ".py" or not source.is_file():
        raise PackagingError(f"{top!r} is not Python source ({source or 'built in'})")
    yield source.name, source


def _tree(
    root: Path, *, skip: frozenset[str] | set[str] = frozenset(), skip_top: set[str] | None = None
) -> Iterator[tuple[str, Path]]:
    """Every file under ``root`` by its path relative to it, in order; directories named in
    ``skip`` (anywhere) or ``skip_top`` (at the top), hidden ones and compiled files left out."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        at_top = here == root
        dirnames[:] = sorted(
            name
            for name in dirnames
            if name not in skip
            and not name.startswith(".")
            and not (at_top and skip_top and name in skip_top)
        )
        for name in sorted(filenames):
            if name.endswith(_SKIPPED_SUFFIXES) or name.startswith(".waddlebot-check-"):
                continue
            path = here / name
            yield path.relative_to(root).as_posix(), path


def _install_dependencies(target: Path, python_version: str, platform: str) -> None:
    """WaddleBot's runtime dependencies for the function's Python and platform, at the
    versions installed here (wheels only: nothing is built for another platform)."""
    uv = _uv()
    requirements = [
        requirement
        for requirement in importlib.metadata.requires("waddlebot") or []
        if "extra" not in requirement.partition(";")[2]
    ]
    constraints = target.parent / "constraints.txt"
    constraints.write_text(
        "".join(
            f"{dist.metadata['Name']}=={dist.version}\n"
            for dist in importlib.metadata.distributions()
            if dist.metadata["Name"] and dist.metadata["Name"].lower() != "waddlebot"
        )
    )
    command = [
        uv, "pip", "install", "--quiet", "--target", str(target),
        "--python", sys.executable,
        "--python-version", python_version, "--python-platform", platform,
        "--only-binary", ":all:", "--constraint", str(constraints), *requirements,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    try:
        # uv with arguments built here, no shell
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    except OSError as exc:
        raise PackagingError(f"cannot run uv ({uv}): {exc}") from exc
    if done.returncode != 0:
        output = " ".join((done.stderr or done.stdout).split())[-_UV_OUTPUT_SHOWN:]
        raise PackagingError(
            f"uv could not install WaddleBot's dependencies for Python {python_version} on "
            f"{platform}: {output}"
        )


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        raise PackagingError(
            "--with-dependencies needs uv: install it (pip install uv) and try again"
        )
    return found


def _write_zip(path: Path, files: dict[str, bytes | Path]) -> None:
    """Written beside ``path`` and moved over it: a failed build leaves no half zip."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(files):
                content = files[name]
                data = content if isinstance(content, bytes) else content.read_bytes()
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise PackagingError(f"cannot write {path}: {exc.strerror or exc}") from exc
