"""Chat words as the settings a module's ``config_schema`` asks for (checked after by
:func:`waddlebot.core.module_config.validated_config`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from waddlebot.core.errors import UserError

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def secret(schema: Mapping[str, Any], key: str) -> bool:
    """Whether the schema marks setting ``key`` ``writeOnly``: a secret, set but never shown
    (by ``!module config`` and the portal)."""
    properties = schema.get("properties")
    spec = properties.get(key) if isinstance(properties, Mapping) else None
    return isinstance(spec, Mapping) and spec.get("writeOnly") is True


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
