"""The layering of ``src/waddlebot``, read from the import statements of every file (parsed
with ``ast``; nothing is imported):

- ``core/`` imports nothing of waddlebot outside ``core/``;
- nothing in ``platforms/`` imports the SDK (``waddlebot.sdk``, ``waddlebot.modules``) or a
  feature's chat module;
- a feature's service code (any file of ``features/<name>/`` but its chat module, ``module.py``
  or ``chat/``, its HTTP routes, ``api.py``, its ``__init__.py`` and ``feature.py``, where the
  feature's registration declares its module) imports no feature's chat module;
- ``router/`` imports no feature's chat module: what a module may ask for is the action
  table's business (``router/pipeline.py``), not a name;
- no import cycle between the top-level packages (``core``, ``infra``, ``router``, ``sdk``,
  ``features``, ``platforms``, ``web``, ``cli``, ...) and modules (``runtime``, ``app``,
  ``settings``, ...), nor between the features (``features/<name>/``). Every import counts,
  also one inside a function or under ``TYPE_CHECKING``: it is a dependency all the same.

``KNOWN_CYCLE_EDGES`` and ``KNOWN_FEATURE_CYCLE_EDGES`` list the imports that close a cycle
today, each with why and who removes it; they are meant to be emptied. A new import that
closes a cycle fails, and so does an entry whose imports are gone (delete it), so the lists
only shrink.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "waddlebot"

Edge = tuple[str, str]  # (importing package, imported package)

# the imports that close a cycle today: why each is there, and who takes it away
KNOWN_CYCLE_EDGES: dict[Edge, str] = {}

# the same between features (a feature builds on another's service, never in a circle)
KNOWN_FEATURE_CYCLE_EDGES: dict[Edge, str] = {}


@dataclass(frozen=True, slots=True)
class Import:
    source: str  # the importing module, e.g. waddlebot.router.pipeline
    path: str  # its file, relative to src/
    line: int
    target: str  # the imported module, e.g. waddlebot.core.contract

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _is_module(name: str) -> bool:
    base = SRC.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports_of(path: Path) -> Iterator[Import]:
    source = _module_name(path)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    rel = path.relative_to(SRC).as_posix()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, rel, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            for alias in node.names:
                # "from waddlebot.features.core import module" imports a module too
                named = f"{module}.{alias.name}"
                yield Import(source, rel, node.lineno, named if _is_module(named) else module)


@cache
def all_imports() -> tuple[Import, ...]:
    found = (i for p in sorted(PACKAGE.rglob("*.py")) for i in _imports_of(p))
    return tuple(i for i in found if i.target.split(".")[0] == "waddlebot")


def _top(module: str) -> str:
    """The top-level package or module: waddlebot.router.pipeline -> router."""
    parts = module.split(".")
    if parts[1:3] == ["infra", "migrations"]:
        return "migrations"  # alembic's environment: composes every feature's tables
    return parts[1] if len(parts) > 1 else parts[0]


def _is_chat_module(module: str) -> bool:
    """A feature's chat module: features/<name>/module.py or features/<name>/chat/."""
    parts = module.split(".")
    return parts[1:2] == ["features"] and len(parts) > 3 and parts[3] in ("module", "chat")


def _under(imp: Import, folder: str) -> bool:
    return imp.path.startswith(f"waddlebot/{folder}/")


def _violations(rule: str) -> list[str]:
    return [str(i) for i in all_imports() if _breaks(rule, i)]


def _breaks(rule: str, imp: Import) -> bool:
    if rule == "core":
        return _under(imp, "core") and _top(imp.target) != "core"
    if rule == "platforms":
        return _under(imp, "platforms") and (
            _top(imp.target) in ("sdk", "modules") or _is_chat_module(imp.target)
        )
    if rule == "feature services":
        parts = imp.path.split("/")
        service = (
            _under(imp, "features")
            and len(parts) > 3  # in a feature's folder, not features/ itself
            and parts[3] not in ("module.py", "chat", "api.py", "feature.py", "__init__.py")
        )
        return service and _is_chat_module(imp.target)
    if rule == "router":
        return _under(imp, "router") and _is_chat_module(imp.target)
    raise AssertionError(rule)


def test_core_imports_nothing_of_the_package_outside_core() -> None:
    assert _violations("core") == []


def test_platforms_never_import_the_sdk_or_a_chat_module() -> None:
    assert _violations("platforms") == []


def test_feature_services_never_import_a_chat_module() -> None:
    assert _violations("feature services") == []


def test_the_router_names_no_feature_module() -> None:
    assert _violations("router") == []


def _feature(module: str) -> str | None:
    """The feature a module belongs to: waddlebot.features.labels.service -> labels."""
    parts = module.split(".")
    in_feature = parts[1:2] == ["features"] and len(parts) > 2
    # features/shared.py, feature.py and __init__.py are the registry every feature uses
    return parts[2] if in_feature and (PACKAGE / "features" / parts[2]).is_dir() else None


def package_graph(node: Callable[[str], str | None] = _top) -> dict[tuple[str, str], list[Import]]:
    """The imports between nodes (top-level packages, or features), per pair of nodes."""
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for imp in all_imports():
        source, target = node(imp.source), node(imp.target)
        if source is not None and target is not None and source != target:
            edges[(source, target)].append(imp)
    return edges


def find_cycle(edges: set[tuple[str, str]]) -> list[str] | None:
    """A cycle in the graph, as the packages along it (first == last), or None."""
    following: dict[str, list[str]] = defaultdict(list)
    for source, target in sorted(edges):
        following[source].append(target)
    state: dict[str, str] = {}  # "open" while on the path, "done" when fully explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in following[node]:
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(following):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


@pytest.mark.parametrize(
    ("node", "known"),
    [(_top, KNOWN_CYCLE_EDGES), (_feature, KNOWN_FEATURE_CYCLE_EDGES)],
    ids=["packages", "features"],
)
def test_no_import_cycle(node: Callable[[str], str | None], known: dict[Edge, str]) -> None:
    graph = package_graph(node)
    cycle = find_cycle(set(graph) - set(known))
    if cycle is not None:
        steps = [f"  {a} -> {b}: {graph[(a, b)][0]}" for a, b in pairwise(cycle)]
        raise AssertionError("import cycle " + " -> ".join(cycle) + "\n" + "\n".join(steps))
    gone = sorted(set(known) - set(graph))
    assert gone == [], f"no longer imported, delete from the known cycle edges: {gone}"


def test_the_checks_see_a_violation() -> None:
    """The rules above must fail on a bad import, or they prove nothing."""
    bad = [
        Import("waddlebot.core.x", "waddlebot/core/x.py", 1, "waddlebot.infra.ports"),
        Import("waddlebot.platforms.x", "waddlebot/platforms/x.py", 1, "waddlebot.sdk"),
        Import(
            "waddlebot.features.a.service",
            "waddlebot/features/a/service.py",
            1,
            "waddlebot.features.b.chat.call",
        ),
        Import("waddlebot.router.x", "waddlebot/router/x.py", 1, "waddlebot.features.b.module"),
    ]
    rules = ("core", "platforms", "feature services", "router")
    assert [_breaks(rule, imp) for rule, imp in zip(rules, bad, strict=True)] == [True] * 4
    allowed = Import(
        "waddlebot.features.a.module", "waddlebot/features/a/module.py", 1, "waddlebot.sdk"
    )
    assert not any(_breaks(rule, allowed) for rule in rules)
    assert find_cycle({("a", "b"), ("b", "c"), ("c", "a")}) == ["a", "b", "c", "a"]
    assert find_cycle({("a", "b"), ("b", "c"), ("a", "c")}) is None
