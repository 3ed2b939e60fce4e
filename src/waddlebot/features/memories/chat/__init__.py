"""The built-in ``memories`` module: a community's quotes, URLs, notes and reminders."""

from waddlebot.features.memories.chat.module import build_memories_module

__all__ = ["build_memories_module"]
