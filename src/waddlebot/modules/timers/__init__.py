"""The built-in ``timers`` module: messages a community posts every so many minutes."""

from waddlebot.modules.timers.module import build_timers_module

__all__ = ["build_timers_module"]
