"""Checking the fields a collector reads from a platform's payload, so that a payload which
does not fit is refused with a message naming the field (a 400), never a crash (a 500)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ValidationError


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")  # PostgreSQL keeps none
    return value


Text = Annotated[str, AfterValidator(no_nul)]
"""A string a database may keep (text or JSON). Its length as ``Field(max_length=...)`` on a
field; inside a container, ``Annotated[str, StringConstraints(...), AfterValidator(no_nul)]``
(pydantic would speak of "items" there)."""


MAX_PATH = 200  # a path through a payload nested hundreds deep says enough by then


def problem(exc: ValidationError, root: str) -> str:
    """``<root>.<field path>: <what is wrong>``, of the first thing wrong."""
    error = exc.errors()[0]
    path = ".".join(str(part) for part in (root, *error["loc"]))
    if len(path) > MAX_PATH:
        path = path[:MAX_PATH] + "..."
    return f"{path}: {error['msg']}"
