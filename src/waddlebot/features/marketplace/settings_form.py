"""A module's settings as a form, generated from its ``config_schema`` (the portal's Modules
page), and a submitted form read back as the values ``Installs.configure`` checks, the way it
checks ``!module config`` and the API's.

The generator draws an object schema whose properties are strings (a ``writeOnly`` one as a
password field that never shows what is stored), integers, numbers, booleans, an ``enum``, or
arrays of strings (one a line). Any other schema is shown as its JSON, edited whole."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from waddlebot.core.errors import UserError
from waddlebot.features.marketplace.config import coerced, secret

FieldKind = Literal["text", "secret", "integer", "number", "boolean", "choice", "lines"]
FORM = "form"  # the key of an error about the whole form, not one field
RAW = "raw"  # the JSON field's name, when the schema is beyond the generator
PREFIX = "setting:"  # a field's name in the form: never collides with csrf_token


@dataclass(frozen=True, slots=True)
class SettingField:
    """One setting as an input: ``value`` is what the input holds (a secret's is always
    empty; ``stored`` says whether one is set)."""

    key: str
    kind: FieldKind
    hint: str
    value: str = ""
    choices: tuple[str, ...] = ()
    minimum: str = ""
    maximum: str = ""
    stored: bool = False

    @property
    def name(self) -> str:
        return PREFIX + self.key


@dataclass(frozen=True, slots=True)
class SettingsForm:
    """The fields, or (``fields`` empty, ``raw`` set) the settings as JSON text."""

    fields: tuple[SettingField, ...] = ()
    raw: str | None = None


def settings_form(schema: Mapping[str, Any], config: Mapping[str, Any]) -> SettingsForm:
    """The form for ``schema`` showing ``config`` (the community's settings; a setting not
    stored shows its default)."""
    properties = _properties(schema)
    if properties is None:
        shown = {k: v for k, v in config.items() if not secret(schema, k)}
        return SettingsForm(raw=orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
    fields = []
    for key, spec in properties.items():
        kind = _kind(spec)
        assert kind is not None  # _properties checked every one
        stored = key in config
        current = config[key] if stored else spec.get("default")
        fields.append(
            SettingField(
                key=key,
                kind=kind,
                hint=_hint(spec, kind),
                value="" if kind == "secret" else _shown(current, kind),
                choices=tuple(_option(v) for v in spec.get("enum", ())),
                minimum=_bound(spec, "minimum"),
                maximum=_bound(spec, "maximum"),
                stored=stored,
            )
        )
    return SettingsForm(tuple(fields))


def submitted(
    schema: Mapping[str, Any], form: SettingsForm, data: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The values a submitted form sets, and what is wrong by field (the field's key,
    :data:`RAW` or :data:`FORM`). A blank number, or a blank secret, leaves the setting as it
    was; an unticked box is false."""
    if form.raw is not None:
        return _raw(data.get(RAW, ""))
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in form.fields:
        text = data.get(field.name, "")
        if field.kind == "boolean":
            text = "true" if text else "false"
        elif field.kind == "lines":
            values[field.key] = [line.strip() for line in text.splitlines() if line.strip()]
            continue
        elif not text.strip() and field.kind in ("integer", "number", "secret"):
            continue
        elif field.kind == "choice":
            options = {_option(v): v for v in _spec(schema, field.key).get("enum", ())}
            if text not in options:
                errors[field.key] = "Choose one of the options."
                continue
            values[field.key] = options[text]
            continue
        try:
            values[field.key] = coerced(schema, field.key, text)
        except UserError as exc:
            errors[field.key] = sentence(str(exc))
    return values, errors


def placed(problems: list[str], form: SettingsForm) -> dict[str, str]:
    """A :class:`~waddlebot.core.module_config.ConfigError`'s problems (``<where>: <what>``)
    by the field they are about; the rest under :data:`FORM`."""
    keys = {field.key for field in form.fields}
    errors: dict[str, list[str]] = {}
    for problem in problems:
        where, _, what = problem.partition(": ")
        key = where.split(".", 1)[0]
        if form.raw is not None:
            errors.setdefault(RAW, []).append(problem)
        elif key in keys:
            errors.setdefault(key, []).append(what)
        else:
            errors.setdefault(FORM, []).append(problem)
    return {key: sentence("; ".join(said)) for key, said in errors.items()}


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _raw(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    try:
        values = orjson.loads(text or "{}")
    except orjson.JSONDecodeError as exc:
        return {}, {RAW: f"This is not JSON: {exc}."}
    if not isinstance(values, dict):
        return {}, {RAW: 'Write the settings as one JSON object: {"name": value, ...}.'}
    return values, {}


def _properties(schema: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]] | None:
    """The schema's properties when the generator can draw every one, else None."""
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, Mapping) or not properties:
        return None
    if any(not isinstance(spec, Mapping) or _kind(spec) is None for spec in properties.values()):
        return None
    return properties


def _kind(spec: Mapping[str, Any]) -> FieldKind | None:
    kind = spec.get("type")
    if "enum" in spec:
        enum = spec["enum"]
        plain = all(isinstance(v, str | int | float | bool) for v in enum)
        return "choice" if isinstance(enum, list) and enum and plain else None
    if kind == "string":
        return "secret" if spec.get("writeOnly") is True else "text"
    if kind in ("integer", "number", "boolean"):
        return kind
    if kind == "array":
        items = spec.get("items")
        if isinstance(items, Mapping) and items.get("type") == "string" and "enum" not in items:
            return "lines"
    return None


def _spec(schema: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    properties = schema.get("properties")
    spec = properties.get(key) if isinstance(properties, Mapping) else None
    return spec if isinstance(spec, Mapping) else {}


def _option(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _shown(value: Any, kind: FieldKind) -> str:
    if value is None:
        return ""
    if kind == "lines":
        return "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if kind == "boolean":
        return "true" if value is True else ""
    if kind == "choice":
        return _option(value)
    return str(value)


def _bound(spec: Mapping[str, Any], name: str) -> str:
    value = spec.get(name)
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _hint(spec: Mapping[str, Any], kind: FieldKind) -> str:
    parts = [str(spec["description"])] if spec.get("description") else []
    low, high = _bound(spec, "minimum"), _bound(spec, "maximum")
    if low and high:
        parts.append(f"from {low} to {high}")
    elif low:
        parts.append(f"at least {low}")
    elif high:
        parts.append(f"at most {high}")
    if kind == "lines":
        parts.append("one a line")
    if kind == "secret":
        parts.append("never shown; leave it blank to keep it")
    elif "default" in spec and kind != "boolean":
        default = spec["default"]
        if kind == "lines" and isinstance(default, list):
            default = ", ".join(map(str, default)) or "none"
        parts.append(f"default: {default if default != '' else '(empty)'}")
    elif kind == "boolean" and "default" in spec:
        parts.append(f"default: {'on' if spec['default'] else 'off'}")
    return "; ".join(parts)
