"""``.env.example``: every ``WADDLEBOT_*`` setting with its default, written from the settings
classes, one block per section (core, each platform's and feature's, process).

``python -m waddlebot.env_example > .env.example`` renews the committed file (``make
env-example``); a unit test fails when it no longer matches the classes. Every line is
commented out, so a copy of the file as ``.env`` changes nothing until a line is uncommented.
"""

from __future__ import annotations

import sys

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from waddlebot.settings import Settings

HEADER = """\
# Every WaddleBot setting, with its default. Copy this file to .env (or set the variables in
# the environment) and uncomment what you change: docs/configuration.md says what each does.
# Written from the settings classes by `python -m waddlebot.env_example`; do not edit by hand.
"""


def sections() -> list[type[BaseModel]]:
    """The sections of :class:`Settings` in the order its fields are read."""
    bases = [base for base in reversed(Settings.__bases__) if base is not BaseSettings]
    return [base for base in bases if issubclass(base, BaseModel)]


def env_name(field: str) -> str:
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


def env_value(field: FieldInfo) -> str:
    """The default as the variable would be written (lists comma-separated, as read)."""
    value = field.get_default(call_default_factory=True)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):  # name=value pairs
        return ",".join(f"{key}={item}" for key, item in value.items())
    return str(value)


def _block(section: type[BaseModel]) -> list[str]:
    doc = (section.__doc__ or "").strip()
    lines = [f"# -- {section.__name__}" + (f": {doc.splitlines()[0]}" if doc else "")]
    for name, field in section.model_fields.items():
        if field.description:
            lines.append(f"# {field.description}")
        if field.default is None and field.default_factory is None:
            lines.append("# unset by default")
        lines.append(f"# {env_name(name)}={env_value(field)}")
    return lines


def render() -> str:
    blocks = ["\n".join(_block(section)) for section in sections()]
    return HEADER + "\n" + "\n\n".join(blocks) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
