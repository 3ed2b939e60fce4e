"""The settings form generated from a module's ``config_schema``: which schemas it draws, how
a submitted form reads back, and where the schema's complaints are shown."""

from __future__ import annotations

from typing import Any

import pytest

from waddlebot.core.module_config import ConfigError, validated_config
from waddlebot.features.marketplace.settings_form import (
    FORM,
    RAW,
    placed,
    settings_form,
    submitted,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "size": {"type": "integer", "enum": [1, 2, 3], "default": 2},
        "name": {"type": "string", "minLength": 2},
        "tags": {"type": "array", "items": {"type": "string"}},
        "key": {"type": "string", "writeOnly": True},
    },
    "required": ["name"],
}


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "object", "properties": {"a": {"type": "integer"}}},
        {"type": "array", "items": {"type": "integer"}},
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        {"type": ["string", "null"]},
        {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
    ],
)
def test_a_property_the_generator_cannot_draw_shows_the_settings_as_json(spec: Any) -> None:
    schema = {
        "type": "object",
        "properties": {"x": spec, "key": {"type": "string", "writeOnly": True}},
    }
    form = settings_form(schema, {"x": 1, "key": "hidden"})
    assert form.fields == () and form.raw == '{\n  "x": 1\n}'  # the secret is left out


def test_a_schema_without_properties_is_json_too() -> None:
    assert settings_form({"type": "object"}, {}).raw == "{}"


def test_fields_show_values_defaults_and_never_a_secret() -> None:
    form = settings_form(SCHEMA, {"key": "hidden", "tags": ["a", "b"]})
    by_key = {field.key: field for field in form.fields}
    assert by_key["size"].kind == "choice" and by_key["size"].choices == ("1", "2", "3")
    assert by_key["size"].value == "2"  # the default
    assert by_key["tags"].value == "a\nb"
    assert by_key["key"].kind == "secret" and by_key["key"].value == "" and by_key["key"].stored


def test_a_submitted_form_reads_back_typed() -> None:
    form = settings_form(SCHEMA, {})
    data = {
        "setting:size": "3",
        "setting:name": "ok",
        "setting:tags": " x \n\ny",
        "setting:key": "",
    }
    assert submitted(SCHEMA, form, data) == ({"size": 3, "name": "ok", "tags": ["x", "y"]}, {})
    assert submitted(SCHEMA, form, {**data, "setting:size": "4"})[1] == {
        "size": "Choose one of the options."
    }


def test_the_schemas_complaints_go_to_their_fields() -> None:
    form = settings_form(SCHEMA, {})
    with pytest.raises(ConfigError) as raised:
        validated_config(SCHEMA, {"name": "x", "tags": ["a", 5]})
    assert placed(raised.value.problems, form) == {
        "name": "'x' is too short.",
        "tags": "5 is not of type 'string'.",
    }
    with pytest.raises(ConfigError) as raised:
        validated_config(SCHEMA, {})
    assert placed(raised.value.problems, form) == {FORM: "Settings: 'name' is a required property."}


def test_json_settings_must_be_one_object() -> None:
    form = settings_form({"type": "object"}, {})
    assert submitted({}, form, {RAW: "[1]"})[1] == {
        RAW: 'Write the settings as one JSON object: {"name": value, ...}.'
    }
    assert submitted({}, form, {RAW: '{"a": 1}'}) == ({"a": 1}, {})
