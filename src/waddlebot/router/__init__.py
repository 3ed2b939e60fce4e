"""The router: the command pipeline from the events stream to the reply streams."""

from waddlebot.router.pipeline import Outcome, Router
from waddlebot.router.worker import RouterWorker

__all__ = ["Outcome", "Router", "RouterWorker"]
