"""A fake server that serves its app on a loopback port while in ``async with``."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Self

from starlette.applications import Starlette

from tests.support.harness import serving_app


class ServedFake:
    url = ""
    path = ""  # what the clients put after the server's address (OpenAI's "/v1")
    _serving: contextlib.AbstractAsyncContextManager[str] | None = None

    def app(self) -> Starlette:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._serving = serving_app(self.app())
        self.url = f"{await self._serving.__aenter__()}{self.path}"
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._serving is not None
        await self._serving.__aexit__(kind, exc, tb)
