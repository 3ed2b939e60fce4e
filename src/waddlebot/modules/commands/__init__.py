"""The built-in ``commands`` module: custom commands a community defines in chat."""

from waddlebot.modules.commands.module import build_commands_module

__all__ = ["build_commands_module"]
