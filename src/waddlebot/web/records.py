"""Answers made from the services' records (dataclasses or rows), field by field."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class FromRecord(BaseModel):
    """An answer whose fields are a record's attributes of the same names: ``Out.from_record(
    info, other=...)`` gives the fields the record names otherwise, or that are worked out."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def from_record(cls, record: object, **given: Any) -> Self:
        values = {
            name: given[name] if name in given else getattr(record, name)
            for name in cls.model_fields
        }
        return cls.model_validate(values)
