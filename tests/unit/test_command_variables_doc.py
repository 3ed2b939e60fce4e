"""The variables reference the portal shows is docs/commands.md's "Variables" table, row for
row, and every variable it names is one the custom commands' resolvers answer."""

from __future__ import annotations

import re
from pathlib import Path

from waddlebot.core.variables import StandardVariables, VariableContext
from waddlebot.features.commands.variables import VARIABLES, pieces
from waddlebot.infra.urlfetch import NAMES as FETCHING

DOC = Path(__file__).resolve().parents[2] / "docs" / "commands.md"
COUNTING = {"count", "getcount"}  # answered by the commands module's counters


def documented_rows() -> list[tuple[str, str]]:
    section = DOC.read_text().split("### Variables", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [tuple(cell.strip() for cell in row.strip("|").split(" | ")) for row in rows]  # type: ignore[misc]


def test_the_portal_reference_is_the_documented_table() -> None:
    assert list(VARIABLES) == documented_rows()


async def test_every_variable_named_is_resolved() -> None:
    context = VariableContext(user="alice", args=["bob"], query="bob")
    standard = StandardVariables(context)
    for syntax, _ in VARIABLES:
        for text, code in pieces(syntax):
            if not code:
                continue
            name, *args = re.fullmatch(r"\$\((.*)\)", text).group(1).split()  # type: ignore[union-attr]
            if name in FETCHING or name in COUNTING:
                continue
            args = [arg.strip("'") for arg in args]
            assert await standard.resolve(name, args) is not None, text
