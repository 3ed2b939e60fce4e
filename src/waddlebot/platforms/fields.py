"""Checking the fields a collector reads from a platform's payload, so that a payload which
does not fit is refused with a message naming the field (a 400), never a crash (a 500)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints, ValidationError

from waddlebot.core.events import NO_NUL, nul_message

Text = Annotated[str, StringConstraints(pattern=NO_NUL)]
"""A string a database may keep (text or JSON; PostgreSQL keeps no NUL). Its length as
``Field(max_length=...)`` on a field; inside a container,
``Annotated[str, StringConstraints(max_length=..., pattern=NO_NUL)]`` (pydantic would speak of
"items" there). The NUL check is a pattern, checked in pydantic's core, as the canonical
event's fields are: a Python validator per field was a call each on every delivery."""


MAX_PATH = 200  # a path through a payload nested hundreds deep says enough by then


def problem(exc: ValidationError, root: str) -> str:
    """``<root>.<field path>: <what is wrong>``, of the first thing wrong."""
    error = exc.errors()[0]
    path = ".".join(str(part) for part in (root, *error["loc"]))
    if len(path) > MAX_PATH:
        path = path[:MAX_PATH] + "..."
    return f"{path}: {nul_message(error)}"
