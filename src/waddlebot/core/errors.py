"""Errors that tell an operator what to change in the configuration."""

from __future__ import annotations


class ConfigurationError(ValueError):
    """A setting is missing, malformed, or does not match what another process was given.

    The message is one line for the operator: it names the setting (``WADDLEBOT_...``) and
    what to set it to. Whoever starts WaddleBot (the CLI) shows it as it is, without a
    traceback, and exits with status 2, as for any invalid setting. A ``ValueError``, so code
    that guards against bad values already catches it."""
