"""The console platform: a local chat with the bot, no platform account needed."""

from waddlebot.platforms.console.collector import ConsoleCollector, ConsoleLine, ConsoleSession

__all__ = ["ConsoleCollector", "ConsoleLine", "ConsoleSession"]
