"""The built-in ``overlay`` module: OBS overlay URLs, tests, and alerts for follows, subs,
cheers and raids."""

from waddlebot.modules.overlay.module import build_overlay_module

__all__ = ["build_overlay_module"]
