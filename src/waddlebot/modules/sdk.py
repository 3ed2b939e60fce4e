"""The first SDK's import path: everything here is :mod:`waddlebot.sdk`."""

from waddlebot.sdk import *  # noqa: F403
from waddlebot.sdk import ArgSpec, CommandSpec, Context, Manifest, Module  # noqa: F401
