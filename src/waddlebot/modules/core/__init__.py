"""The built-in ``core`` module: ``!help`` and ``!ping``."""

from waddlebot.modules.core.module import build_core_module

__all__ = ["build_core_module"]
