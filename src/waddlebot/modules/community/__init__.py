"""The built-in ``community`` module: ``!community`` (show, rename, link, join, unlink) and
``!role`` (list, add, remove)."""

from waddlebot.modules.community.module import FindUser, build_community_module

__all__ = ["FindUser", "build_community_module"]
