"""Making a test's own PostgreSQL database unreachable, and reachable again."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL


class DatabaseSwitch:
    """Makes the test's own database unreachable and reachable again, from an admin
    connection to the ``postgres`` database (the server and other databases are untouched)."""

    def __init__(self, database_url: str) -> None:
        self.name = make_url(database_url).database or ""
        assert self.name.startswith("waddlebot_t_"), self.name  # never anyone else's

    async def _admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def block(self) -> None:
        await self._admin(
            f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false',
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{self.name}' AND pid <> pg_backend_pid()",
        )

    async def allow(self) -> None:
        await self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')
