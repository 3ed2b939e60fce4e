"""The process as HTTP endpoints see it (the runtime, through a protocol, so the web layer
does not import it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Protocol

from fastapi import Depends, Request

from waddlebot.infra.host import ProcessHost

if TYPE_CHECKING:
    from waddlebot.web.access import Access


class ApiHost(ProcessHost, Protocol):
    @property
    def access(self) -> Access:
        """Who may do what in which community."""


def api_host(request: Request) -> ApiHost:
    host: ApiHost = request.app.state.runtime
    return host


Running = Annotated[ApiHost, Depends(api_host)]  # the process, in an endpoint
