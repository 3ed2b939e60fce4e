"""The router: the command pipeline from the events stream to the reply streams."""

from waddlebot.services.router.pipeline import Outcome, Router
from waddlebot.services.router.worker import RouterWorker

__all__ = ["Outcome", "Router", "RouterWorker"]
