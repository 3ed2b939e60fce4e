"""Every ``wait_for_function`` in the browser tests passes a function, never an expression.

Playwright evaluates an expression string with the page's ``eval`` at each poll after the
first; the pages' Content Security Policy (no ``'unsafe-eval'``) refuses that, so a wait
whose first check was not already true failed with an EvalError (a YouTube player test,
once in a clean CI run). A function is evaluated once, in the first check, and then called.
"""

from __future__ import annotations

import ast
from pathlib import Path

BROWSER_TESTS = Path(__file__).resolve().parents[1] / "browser"


def waits_on_expressions(source: str) -> list[str]:
    """The expression strings ``source`` passes to ``wait_for_function``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "wait_for_function"
            and node.args
        ):
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            text = first.value.strip()
            if not (text.startswith(("function", "async ")) or "=>" in text.split("\n")[0]):
                found.append(text)
    return found


def test_the_check_tells_an_expression_from_a_function() -> None:
    source = """
page.wait_for_function("window.ready === true")
page.wait_for_function("() => window.ready === true")
page.wait_for_function('''() => [...document.querySelectorAll('td')]
    .length > 2''')
"""
    assert waits_on_expressions(source) == ["window.ready === true"]


def test_browser_tests_wait_on_functions() -> None:
    files = sorted(BROWSER_TESTS.rglob("*.py"))
    assert files
    offending = {
        str(path.relative_to(BROWSER_TESTS)): found
        for path in files
        if (found := waits_on_expressions(path.read_text(encoding="utf-8")))
    }
    assert offending == {}
