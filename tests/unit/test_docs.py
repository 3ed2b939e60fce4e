"""The documentation is checked against the code, so the two cannot drift apart silently.

- every setting is described in docs/configuration.md, with its default, and no page names a
  ``WADDLEBOT_*`` variable that does not exist;
- the JSON Schemas in docs/schema are what ``waddlebot schema`` writes today;
- the example modules in docs/modules.md import, answer exactly as their documented
  conversations say, and their documented tests pass;
- the JSON examples in docs/events.md are valid contract instances;
- docs/operations.md lists exactly the metrics ``waddlebot.infra.metrics`` defines, and
  exactly the audit actions the code records;
- docs/api.md names every path of the app's OpenAPI document, and its access table has a row
  for every method and path under ``/api/v1`` (and none that does not exist).

Markers in the Markdown say which blocks are checked; each precedes a fenced block:

    <!-- test: kudos.py -->            a Python file (a ``test_*.py`` file has tests to run)
    <!-- transcript: kudos:module -->  a conversation with that module (``user> !cmd``,
                                       ``user (role)> !cmd``, ``bot> reply``,
                                       ``bot> (private) reply``)
    <!-- validate: event -->           a JSON instance of a ``waddlebot.schema.CONTRACTS`` model
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.metrics import MetricWrapperBase
from pydantic import SecretStr

from waddlebot.core.contract import Visibility
from waddlebot.core.parser import parse_command
from waddlebot.core.permissions import Level
from waddlebot.infra import metrics
from waddlebot.schema import CONTRACTS, write_schemas
from waddlebot.sdk import Module
from waddlebot.sdk.loader import load_module
from waddlebot.sdk.store import MemoryStore
from waddlebot.settings import Settings
from waddlebot.testing import ModuleChat
from waddlebot.web.deps import SESSION_COOKIE

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "waddlebot"
SCHEMA_DIR = DOCS / "schema"

_MARKER = re.compile(r"^<!--\s*(test|transcript|validate):\s*(\S+)\s*-->\s*$")
_FENCE = re.compile(r"^```(\w*)\s*$")
_ENV_NAME = re.compile(r"\bWADDLEBOT_[A-Z0-9_]*[A-Z0-9]\b")
_METRIC_NAME = re.compile(r"\bwaddlebot_[a-z0-9_]*[a-z0-9]\b")
_USER_LINE = re.compile(r"^(?P<user>[A-Za-z0-9_.-]+)(?: \((?P<role>[a-z_]+)\))?> (?P<text>.*)$")
_BOT_LINE = re.compile(r"^bot> (?P<text>.*)$")


@dataclass(frozen=True)
class Block:
    kind: str  # test, transcript or validate
    arg: str  # file name, module spec or contract name
    lang: str
    text: str
    where: str  # "docs/modules.md:123", for messages

    def __str__(self) -> str:
        return f"{self.kind}:{self.arg}@{self.where}"


def marked_blocks(path: Path) -> list[Block]:
    """Every fenced block preceded by a marker comment (blank lines may sit between)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        marker = _MARKER.match(lines[i].strip())
        i += 1
        if marker is None:
            continue
        while i < len(lines) and not lines[i].strip():
            i += 1
        where = f"{path.relative_to(ROOT)}:{i + 1}"
        fence = _FENCE.match(lines[i]) if i < len(lines) else None
        if fence is None:
            raise AssertionError(f"{where}: a marker must be followed by a fenced block")
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{where}: fenced block is never closed")
        i += 1
        blocks.append(Block(marker[1], marker[2], fence[1], "\n".join(body) + "\n", where))
    return blocks


def doc_pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def all_blocks() -> list[Block]:
    return [block for page in doc_pages() for block in marked_blocks(page)]


# -- (a) settings ------------------------------------------------------------------------------


def _env(field: str) -> str:
    return f"WADDLEBOT_{field.upper()}"


def _documented_default(value: object) -> str:
    """How configuration.md writes a default in its table."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return "unset"
    if value in ("", []):
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return f"`{','.join(map(str, value))}`"  # lists are written comma-separated
    return f"`{value}`"


def _setting_rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in (DOCS / "configuration.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("| `WADDLEBOT_") and len(cells) >= 4:
            rows[cells[0].strip("`")] = cells
    return rows


def test_every_setting_has_a_row_with_its_default() -> None:
    rows = _setting_rows()
    missing = [_env(name) for name in Settings.model_fields if _env(name) not in rows]
    assert not missing, f"add these settings to the tables in docs/configuration.md: {missing}"
    wrong = {}
    for name, field in Settings.model_fields.items():
        expected = _documented_default(field.get_default(call_default_factory=True))
        documented = rows[_env(name)][2]
        if documented != expected:
            wrong[_env(name)] = f"documented {documented}, code says {expected}"
    assert not wrong, f"defaults in docs/configuration.md are out of date: {wrong}"


def test_no_page_names_an_unknown_setting() -> None:
    known = {_env(name) for name in Settings.model_fields}
    unknown = {
        f"{page.name}: {name}"
        for page in doc_pages()
        for name in _ENV_NAME.findall(page.read_text(encoding="utf-8"))
        if name not in known
    }
    assert not unknown, f"these WADDLEBOT_* names are not settings: {sorted(unknown)}"


# -- (b) JSON Schemas --------------------------------------------------------------------------


def test_committed_schemas_match_the_models(tmp_path: Path) -> None:
    written = {path.name: path.read_text() for path in write_schemas(tmp_path)}
    committed = {path.name: path.read_text() for path in SCHEMA_DIR.glob("*.schema.json")}
    hint = "run `.venv/bin/waddlebot schema --out docs/schema` and commit the result"
    assert sorted(committed) == sorted(written), hint
    stale = [name for name, text in written.items() if committed[name] != text]
    assert not stale, f"{stale} differ from the models; {hint}"


def _validate_blocks() -> list[Block]:
    return [block for block in all_blocks() if block.kind == "validate"]


@pytest.mark.parametrize("block", _validate_blocks(), ids=str)
def test_json_examples_are_valid(block: Block) -> None:
    assert block.arg in CONTRACTS, f"{block.where}: unknown contract {block.arg!r}"
    CONTRACTS[block.arg].model_validate(json.loads(block.text))


# -- (c) the module examples -------------------------------------------------------------------


def _module_blocks() -> list[Block]:
    return [block for block in marked_blocks(DOCS / "modules.md") if block.kind != "validate"]


def _files() -> list[Block]:
    return [block for block in _module_blocks() if block.kind == "test"]


def _transcripts() -> list[Block]:
    return [block for block in _module_blocks() if block.kind == "transcript"]


def _test_files() -> list[Block]:
    return [block for block in _files() if block.arg.startswith("test_")]


@pytest.fixture
def doc_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Writes every ``<!-- test: file.py -->`` block of modules.md into an importable
    directory, as a reader following the page would, and forgets the imports afterwards."""
    names = []
    for block in _files():
        assert block.lang == "python", f"{block.where}: a test block must be ```python"
        assert re.fullmatch(r"[a-z_][a-z0-9_]*\.py", block.arg), f"{block.where}: bad file name"
        (tmp_path / block.arg).write_text(block.text, encoding="utf-8")
        names.append(block.arg.removesuffix(".py"))
    monkeypatch.syspath_prepend(str(tmp_path))

    def forget() -> None:
        for name in names:
            sys.modules.pop(name, None)

    forget()
    importlib.invalidate_caches()
    try:
        yield tmp_path
    finally:
        forget()


def test_modules_page_has_checked_examples() -> None:
    files, transcripts = _files(), _transcripts()
    assert files and transcripts and _test_files(), "docs/modules.md lost its checked examples"
    shown = {block.arg.partition(":")[0] for block in transcripts}
    untried = [
        block.arg
        for block in files
        if not block.arg.startswith("test_") and block.arg.removesuffix(".py") not in shown
    ]
    assert not untried, f"give these modules a <!-- transcript --> in modules.md: {untried}"


def test_module_files_import(doc_files: Path) -> None:
    for block in _files():
        module = importlib.import_module(block.arg.removesuffix(".py"))
        if not block.arg.startswith("test_"):
            found = [value for value in vars(module).values() if isinstance(value, Module)]
            assert found, f"{block.where}: {block.arg} defines no Module"
            for value in found:
                value.manifest  # noqa: B018 - builds and validates the manifest


@dataclass(frozen=True)
class Turn:
    user: str
    role: str
    text: str
    expected: tuple[str, ...]


def _turns(block: Block) -> list[Turn]:
    turns: list[Turn] = []
    for number, line in enumerate(block.text.splitlines(), 1):
        if not line.strip():
            continue
        bot, user = _BOT_LINE.match(line), _USER_LINE.match(line)
        if bot is not None:
            assert turns, f"{block.where}+{number}: the bot speaks before anyone else"
            last = turns[-1]
            turns[-1] = Turn(last.user, last.role, last.text, (*last.expected, bot["text"]))
        elif user is not None:
            turns.append(Turn(user["user"], user["role"] or "everyone", user["text"], ()))
        else:
            raise AssertionError(f"{block.where}+{number}: not a transcript line: {line!r}")
    return turns


def _shown(text: str, visibility: Visibility) -> str:
    """A reply as ``waddlebot chat`` prints it."""
    return f"(private) {text}" if visibility is not Visibility.CHANNEL else text


@pytest.mark.parametrize("block", _transcripts(), ids=str)
async def test_transcript(block: Block, doc_files: Path) -> None:
    module = load_module(block.arg)
    specs = {spec.name: spec for spec in module.manifest.commands}
    # what the router says around the module too, and a store as the bot's would keep
    chat = ModuleChat(module, store=MemoryStore())
    for turn in _turns(block):
        parsed = parse_command(turn.text, "!")
        if parsed is None:  # plain chat: the bot says nothing
            assert not turn.expected, f"{block.where}: {turn.text!r} is not a command"
            continue
        spec = specs.get(parsed.name)
        assert spec is not None, f"{block.where}: {module.name} has no command {parsed.name!r}"
        level = Level.parse(turn.role)
        assert level >= spec.level, (
            f"{block.where}: the router would refuse {turn.text!r} from a {turn.role}; "
            "show the caller's role, e.g. 'mo (moderator)> ...'"
        )
        await chat.say(turn.text, as_=turn.user, level=level)
        said = [_shown(reply.text, reply.visibility) for reply in chat.last]
        assert said == list(turn.expected), f"{block.where}: {turn.user}> {turn.text}"


@pytest.mark.parametrize("block", _test_files(), ids=str)
async def test_documented_tests_pass(block: Block, doc_files: Path) -> None:
    tests = importlib.import_module(block.arg.removesuffix(".py"))
    found = {name: fn for name, fn in vars(tests).items() if name.startswith("test_")}
    assert found, f"{block.where}: {block.arg} has no test functions"
    for function in found.values():
        result = function()
        if inspect.isawaitable(result):
            await result


# -- (d) metrics -------------------------------------------------------------------------------

_SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("", "_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def _metric_families() -> dict[str, set[str]]:
    """Each metric's main exposed name -> every sample name it exposes."""
    families: dict[str, set[str]] = {}
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            suffixes = _SAMPLE_SUFFIXES.get(family.type, ("",))
            families[family.name + suffixes[0]] = {family.name + s for s in suffixes}
    return families


def test_operations_lists_exactly_the_metrics() -> None:
    families = _metric_families()
    assert families, "waddlebot.infra.metrics defines no metrics?"
    exposed = set().union(*families.values())
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    documented = set(_METRIC_NAME.findall(text)) - {SESSION_COOKIE}  # a cookie, not a metric
    unknown = sorted(documented - exposed)
    assert not unknown, f"operations.md lists metrics that do not exist: {unknown}"
    undocumented = sorted(name for name in families if name not in documented)
    assert not undocumented, f"describe these metrics in docs/operations.md: {undocumented}"


# -- (e) audit actions -------------------------------------------------------------------------

_AUDIT_CALLS = ("record", "audit_row")  # AuditLog.record(action, ...), audit_row(action, ...)
_ACTION_CELL = re.compile(r"^`(?P<action>[a-z_]+(?:\.[a-z_<>]+)+)`$")


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _action_text(node: ast.expr) -> str | None:
    """A literal action (``"label.create"``); an f-string's variable parts become ``<name>``
    (``f"command.{spec.name}"`` is ``command.<name>``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else "<name>" for part in node.values
        )
    return None


def _action_argument(call: ast.Call, position: int) -> ast.expr | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == "action"), None)


def recorded_audit_actions() -> set[str]:
    """Every audit action the source records: the first argument of ``record(...)`` and
    ``audit_row(...)`` calls, and of calls to helpers that pass their own ``action`` parameter
    on to one of those, or to another such helper (``_after_role_change(..., "role.add",
    ...)``)."""
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in sorted(SRC.rglob("*.py"))]
    position = dict.fromkeys(_AUDIT_CALLS, 0)  # function name -> where the action is passed
    found_more = True
    while found_more:
        found_more = False
        for tree in trees:
            for fn in ast.walk(tree):
                if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                params = [arg.arg for arg in fn.args.args]
                if fn.name in position or "action" not in params:
                    continue
                for call in ast.walk(fn):
                    if not isinstance(call, ast.Call) or _called_name(call.func) not in position:
                        continue
                    passed = _action_argument(call, position[_called_name(call.func)])
                    if isinstance(passed, ast.Name) and passed.id == "action":
                        bound = 1 if params[0] in ("self", "cls") else 0
                        position[fn.name] = params.index("action") - bound
                        found_more = True
                        break
    actions: set[str] = set()
    for tree in trees:
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            name = _called_name(call.func)
            if name not in position:
                continue
            argument = _action_argument(call, position[name])
            action = _action_text(argument) if argument is not None else None
            if action is not None:
                actions.add(action)
    return actions


def test_operations_lists_exactly_the_audit_actions() -> None:
    recorded = recorded_audit_actions()
    assert {"command.<name>", "apikey.create", "role.add"} <= recorded, (
        f"the scan of src/ for audit actions is broken: it found only {sorted(recorded)}"
    )
    documented = set()
    for line in (DOCS / "operations.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            match = _ACTION_CELL.match(line.strip().strip("|").split(" | ")[0].strip())
            if match:
                documented.add(match["action"])
    missing = sorted(recorded - documented)
    assert not missing, f"add rows for these audit actions to docs/operations.md: {missing}"
    unknown = sorted(documented - recorded)
    assert not unknown, f"docs/operations.md lists audit actions nothing records: {unknown}"


# -- (f) the HTTP API --------------------------------------------------------------------------

_TABLE_PATH = re.compile(r"`(/[^`\s]*)`")


def _openapi_operations(tmp_path: Path) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation in the OpenAPI document of a full app (built, never
    started: no database is touched)."""
    from waddlebot.app import create_app

    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    document = create_app(settings).openapi()
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }


def _access_rows() -> set[tuple[str, str]]:
    """(METHOD, path) of every row of the access table in docs/api.md."""
    rows = set()
    for line in (DOCS / "api.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) >= 3 and re.fullmatch(r"`[A-Z]+`", cells[0]):
            rows |= {(cells[0].strip("`"), path) for path in _TABLE_PATH.findall(cells[1])}
    return rows


def test_api_page_covers_every_endpoint(tmp_path: Path) -> None:
    operations = _openapi_operations(tmp_path)
    assert operations, "the app's OpenAPI document has no paths?"
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    unmentioned = sorted({path for _, path in operations if path not in text})
    assert not unmentioned, f"describe these paths in docs/api.md: {unmentioned}"
    rows = _access_rows()
    missing = sorted(op for op in operations if op not in rows)
    assert not missing, f"add these to the access table in docs/api.md: {missing}"
    unknown = sorted(row for row in rows if row[1].startswith("/api/") and row not in operations)
    assert not unknown, f"docs/api.md's access table lists endpoints that do not exist: {unknown}"
