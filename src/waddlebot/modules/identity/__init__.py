"""The built-in ``identity`` module: one person across platforms (link, verify, whoami)."""

from waddlebot.modules.identity.module import build_identity_module

__all__ = ["build_identity_module"]
