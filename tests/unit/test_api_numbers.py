"""Every integer the HTTP API takes is bounded to what the database stores
(``waddlebot.web.numbers``): an operation added with a plain ``int`` fails here before a huge
value can reach asyncpg or SQLite as a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from waddlebot.app import create_app
from waddlebot.settings import Settings
from waddlebot.web.numbers import MAX_STORED_INT

# The canonical event is a contract of its own (docs/schema): its integers go on the bus,
# never into a database column, and JSON integers the bus codec cannot carry are a 422.
NOT_STORED = {"Event"}
# Integers that only ever go into a JSON value (a module's store): bounded to 64 bits instead.
IN_JSON_VALUES = {"POST /api/v1/module-store/increment body.IncrementIn.by"}
INT64 = 2**63  # as OpenAPI writes it: a float, so 2**63 - 1 reads as 2**63


def _integers(
    schema: dict[str, Any], components: dict[str, Any], where: str, seen: frozenset[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, schema) of every integer schema inside ``schema``, following references."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen and name not in NOT_STORED:
            yield from _integers(components[name], components, f"{where}.{name}", seen | {name})
        return
    if schema.get("type") == "integer":
        yield where, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            yield from _integers(part, components, where, seen)
    for name, part in schema.get("properties", {}).items():
        yield from _integers(part, components, f"{where}.{name}", seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _integers(schema[key], components, f"{where}[]", seen)


def test_every_integer_parameter_and_field_is_bounded(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    document = create_app(settings).openapi()
    components = document["components"]["schemas"]
    found = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                where = f"{label} {parameter['in']} {parameter['name']}"
                found.update(_integers(parameter["schema"], components, where, frozenset()))
            for content in operation.get("requestBody", {}).get("content", {}).values():
                schema = content.get("schema", {})
                found.update(_integers(schema, components, f"{label} body", frozenset()))
    assert len(found) > 50, "the walk of the OpenAPI document is broken"
    unbounded = sorted(
        where
        for where, schema in found.items()
        if where not in IN_JSON_VALUES
        and (
            schema.get("maximum", MAX_STORED_INT + 1) > MAX_STORED_INT
            or schema.get("minimum", -1) < 0
        )
    )
    assert all(
        -INT64 <= found[where]["minimum"] and found[where]["maximum"] <= INT64
        for where in IN_JSON_VALUES
    ), "the integers kept in JSON values must stay within 64 bits"
    assert not unbounded, f"use waddlebot.web.numbers.Id or Count for: {unbounded}"
