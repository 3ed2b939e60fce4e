"""A community's settings for a module, checked against the JSON Schema of its manifest
(``config_schema``) and completed with the schema's defaults.

``!module config`` and the marketplace API check what an admin sets with
:func:`validated_config`; a module reads the result as ``ctx.config`` (:func:`with_defaults`
over ``request.config``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from waddlebot.core.errors import UserError

MAX_PROBLEMS = 5  # said in one error; more are counted


class ConfigError(UserError):
    """Settings that do not fit the module's ``config_schema``; ``problems`` lists each, as
    ``<where>: <what is wrong>``."""

    code = "invalid_config"

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        text = "; ".join(shown) + (f" (and {more} more)" if more else "")
        super().__init__(f"the settings do not fit: {text}")
        self.problems = problems


def config_defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The ``default`` of every property of an object schema, nested objects included."""
    defaults: dict[str, Any] = {}
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return defaults
    for name, spec in properties.items():
        if not isinstance(spec, Mapping):
            continue
        if "default" in spec:
            defaults[name] = copy.deepcopy(spec["default"])
        elif spec.get("type") == "object" and (nested := config_defaults(spec)):
            defaults[name] = nested
    return defaults


def with_defaults(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` over the schema's defaults (nested objects merged key by key)."""
    return dict(over_defaults(config_defaults(schema), values))


def over_defaults(defaults: dict[str, Any], values: Mapping[str, Any]) -> Mapping[str, Any]:
    """``values`` over ``defaults`` (:func:`config_defaults`, worked out once); ``values``
    itself when there are no defaults or no values: nothing to copy on every call."""
    if not defaults:
        return values
    return _merged(defaults, values) if values else copy.deepcopy(defaults)


def _merged(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for name, value in over.items():
        below = result.get(name)
        if isinstance(below, dict) and isinstance(value, Mapping):
            result[name] = _merged(below, value)
        else:
            result[name] = copy.deepcopy(value)
    return result


def check_schema(schema: Mapping[str, Any]) -> None:
    """A :class:`ConfigError` when ``schema`` is no valid JSON Schema (2020-12)."""
    try:
        Draft202012Validator.check_schema(dict(schema))
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path) or "the schema"
        problem = f"config_schema is not a valid JSON Schema: {where}: {exc.message}"
        raise ConfigError([problem]) from exc


def validated_config(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` over the schema's defaults, once the result fits ``schema``; a
    :class:`ConfigError` listing everything that does not (an empty schema takes anything)."""
    merged = with_defaults(schema, values)
    if not schema:
        return merged
    check_schema(schema)
    validator = Draft202012Validator(dict(schema))
    problems = [
        f"{'.'.join(str(part) for part in error.absolute_path) or 'settings'}: {error.message}"
        for error in sorted(validator.iter_errors(merged), key=lambda e: list(map(str, e.path)))
    ]
    if problems:
        raise ConfigError(problems)
    return merged
