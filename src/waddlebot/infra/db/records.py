"""Records (dataclasses) made from database rows, or request bodies, whose attributes have
the same names as their fields."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    RecordT = TypeVar("RecordT", bound=DataclassInstance)
else:
    RecordT = TypeVar("RecordT")


def record_of(cls: type[RecordT], row: object, **given: Any) -> RecordT:
    """A ``cls`` whose fields are ``row``'s attributes of the same names, except those
    ``given`` (fields a row does not hold, or holds under another name or type)."""
    values = {
        field.name: given[field.name] if field.name in given else getattr(row, field.name)
        for field in fields(cls)
        if field.init
    }
    return cls(**values)


def escape_like(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (with ``escape="\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
