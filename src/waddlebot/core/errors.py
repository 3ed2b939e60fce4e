"""Errors that are for the person running WaddleBot to fix, not bugs."""

from __future__ import annotations


class ConfigurationError(ValueError):
    """A setting, or a mix of settings, WaddleBot cannot run with: found while reading the
    settings or while starting. The command line prints each as one line, ``<setting>:
    <problem>. <fix>``, and exits with status 2 (no traceback unless the log level is DEBUG).

    ``setting`` is the environment variable to change (``WADDLEBOT_...``), ``problem`` the rule
    it broke, ``fix`` what to do. A ``ValueError``, so code that already catches those keeps
    working. Never put a secret's value in any of them.
    """

    def __init__(self, problem: str, *, setting: str = "", fix: str = "") -> None:
        self.problem = problem
        self.setting = setting
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        text = f"{self.setting}: {self.problem}" if self.setting else self.problem
        if self.fix:
            text = f"{text if text.endswith(('.', '?', '!')) else text + '.'} {self.fix}"
        return text

    def for_setting(self, setting: str) -> ConfigurationError:
        """This problem, naming ``setting`` unless it names one already."""
        if self.setting:
            return self
        named = ConfigurationError(self.problem, setting=setting, fix=self.fix)
        named.__cause__ = self
        return named
