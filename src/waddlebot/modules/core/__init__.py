"""The built-in ``core`` module: ``!help``, ``!ping`` and ``!prefix``."""

from waddlebot.modules.core.module import SET_PREFIX_ACTION, build_core_module

__all__ = ["SET_PREFIX_ACTION", "build_core_module"]
