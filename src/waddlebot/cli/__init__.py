"""The ``waddlebot`` command line."""

from waddlebot.cli.main import app, main

__all__ = ["app", "main"]
