"""The built-in ``labels`` module: ``!label list|show|create|delete|add|remove``."""

from waddlebot.modules.labels.module import FindUser, build_labels_module, parse_duration

__all__ = ["FindUser", "build_labels_module", "parse_duration"]
