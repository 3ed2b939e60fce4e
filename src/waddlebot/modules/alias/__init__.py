"""The built-in ``alias`` module: Linux-style aliases a community defines in chat."""

from waddlebot.modules.alias.module import build_alias_module

__all__ = ["build_alias_module"]
