"""Relational storage: models, engines and sessions, and schema migrations."""

from waddlebot.infra.db.engine import Database, DatabaseSettings, async_url, build_engine
from waddlebot.infra.db.models import Base, metadata

__all__ = ["Base", "Database", "DatabaseSettings", "async_url", "build_engine", "metadata"]
