"""What every part of a process builds on: its settings and the shared ports, database and
audit log, and the services found by key (:mod:`waddlebot.core.services`). The runtime is
the one host; the features, the web layer and the platforms each see it through a protocol
that extends this one, so none of them imports the runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from waddlebot.core.services import Provider

if TYPE_CHECKING:
    from waddlebot.core.settings import CoreSettings
    from waddlebot.infra.audit import AuditLog
    from waddlebot.infra.db.engine import Database
    from waddlebot.infra.ports import Ports


class ProcessHost(Provider, Protocol):
    @property
    def settings(self) -> CoreSettings:
        """A part reads its own section with ``settings.section(OverlaySettings)``."""

    @property
    def ports(self) -> Ports: ...
    @property
    def db(self) -> Database: ...
    @property
    def audit(self) -> AuditLog: ...
