"""A community's settings for a module, checked against the module's ``config_schema``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from jsonschema import Draft202012Validator

from waddlebot.core.errors import UserError

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def coerced(schema: Mapping[str, Any], key: str, value: Any) -> Any:
    """``value`` as the schema's type for ``key`` when it came as chat text (``300`` an
    integer, ``yes`` a boolean, ``["a"]`` an array); anything else is left as it is."""
    properties = schema.get("properties", {})
    if key not in properties and schema.get("additionalProperties") is False:
        known = ", ".join(sorted(properties)) or "none"
        raise UserError(f"there is no setting {key!r} (settings: {known})")
    if not isinstance(value, str):
        return value
    wanted = properties.get(key, {}).get("type")
    text = value.strip()
    try:
        if wanted == "integer":
            return int(text)
        if wanted == "number":
            return float(text)
        if wanted == "boolean" and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        if wanted in ("array", "object"):
            return orjson.loads(text)
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise UserError(
            f"{key} must be a{'n' if wanted in ('integer', 'array', 'object') else ''} {wanted}"
        ) from exc
    return value


def validated(schema: Mapping[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """``config`` when it fits ``schema``; else a :class:`UserError` saying what is wrong."""
    errors = sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.path))
    if errors:
        said = "; ".join(
            f"{'.'.join(str(p) for p in error.path) or 'settings'}: {error.message}"
            for error in errors[:3]
        )
        raise UserError(f"those settings do not fit: {said}")
    return config
