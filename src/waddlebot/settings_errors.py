"""What is wrong with the settings, said so a person can fix it: pydantic's validation errors
of :class:`~waddlebot.settings.Settings` turned into one :class:`ConfigurationError` each,
naming the environment variable, the rule it broke and what to do."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic_core import ErrorDetails

from waddlebot.core.errors import ConfigurationError
from waddlebot.settings import Settings

ENV_PREFIX = "WADDLEBOT_"

# pydantic error type -> the rule, said for a person (ctx fills the braces)
RULES = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false (or 1/0, yes/no, on/off)",
    "bool_type": "must be true or false (or 1/0, yes/no, on/off)",
    "greater_than": "must be more than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be {expected}",
}


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def settings_problems(error: ValidationError) -> list[ConfigurationError]:
    """One problem per error pydantic found, in the order it found them."""
    return [_problem(detail) for detail in error.errors()]


def _problem(detail: ErrorDetails) -> ConfigurationError:
    loc = detail.get("loc", ())
    field = str(loc[0]) if loc else ""
    setting = env_name(field) if field else ""
    raised = detail.get("ctx", {}).get("error")
    if isinstance(raised, ConfigurationError):  # a validator of ours said it all
        return raised.for_setting(setting) if setting else raised
    rule = RULES.get(detail["type"])
    if rule is None:  # a rule without a sentence here: pydantic's own words
        text = str(raised) if raised is not None else detail["msg"]
        rule = text[0].lower() + text[1:] if text else "is not valid"
    else:
        rule = rule.format(**detail.get("ctx", {}))
    if field in Settings.model_fields and not _secret(field):
        rule = f"{rule} (got {detail.get('input')!r})"
    return ConfigurationError(rule, setting=setting, fix=_default_fix(field))


def _secret(field: str) -> bool:
    default = Settings.model_fields[field].default
    return isinstance(default, SecretStr) or field == "secret_keys"


def _default_fix(field: str) -> str:
    if field not in Settings.model_fields:
        return ""
    info = Settings.model_fields[field]
    default: Any = info.get_default(call_default_factory=True)
    if isinstance(default, SecretStr) or default in ("", None, []):
        return "Correct it, or remove it to leave it unset."
    shown = str(default).lower() if isinstance(default, bool) else default
    return f"Correct it, or remove it to use the default ({shown})."
