"""What ``waddlebot.serverless.package`` puts in a zip of a module's own code: a single file,
or a whole package without its tests and compiled files."""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from waddlebot.serverless.package import PackagingError, package

MODULE = "from waddlebot.sdk import Module\nmodule = Module({name!r})\n"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory to write modules in, importable as the command's current directory is."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith(("solo", "bundle", "waddlebot_handler")):
            del sys.modules[name]


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_a_single_file_module(here: Path) -> None:
    (here / "solo.py").write_text(MODULE.format(name="solo"))
    (here / "unrelated.py").write_text("")
    built = package("solo:module", "openwhisk", here / "out")
    assert built.path == here / "out" / "solo-openwhisk.zip"
    assert names(built.path) == ["__main__.py", "solo.py", "waddlebot-function.json"]


def test_a_package_without_its_tests_and_compiled_files(here: Path) -> None:
    bundle = here / "bundle"
    for folder in ("tests", "__pycache__", "data", ".git"):
        (bundle / folder).mkdir(parents=True)
    (bundle / "__init__.py").write_text("")
    (bundle / "mod.py").write_text(MODULE.format(name="bundled"))
    (bundle / "tests" / "test_mod.py").write_text("")
    (bundle / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"")
    (bundle / "stale.pyc").write_bytes(b"")
    (bundle / "data" / "answers.txt").write_text("yes")
    (bundle / ".git" / "HEAD").write_text("")
    built = package("bundle.mod:module", "lambda", here / "out")
    assert built.description["module"] == "bundled"
    assert names(built.path) == [
        "bundle/__init__.py",
        "bundle/data/answers.txt",
        "bundle/mod.py",
        "waddlebot-function.json",
        "waddlebot_handler.py",
    ]


def test_a_module_named_as_the_entry_is_refused(here: Path) -> None:
    (here / "waddlebot_handler.py").write_text(MODULE.format(name="clash"))
    with pytest.raises(PackagingError, match="clash with the generated entry"):
        package("waddlebot_handler:module", "lambda", here / "out")


def test_a_module_that_fails_to_import_is_said_so(here: Path) -> None:
    (here / "solo_broken.py").write_text("raise RuntimeError('no config here')\n")
    with pytest.raises(PackagingError) as refused:
        package("solo_broken:module", "lambda", here / "out")
    assert str(refused.value) == (
        "cannot load module 'solo_broken:module': RuntimeError: no config here"
    )
