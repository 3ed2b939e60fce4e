"""Running modules' scheduled handlers (``@module.every`` / ``@module.at``, or ``schedules`` in
an HTTP module's manifest): a job of the scheduler (infra/scheduler.py), so one router
process runs it at a time, and a claim-once job (infra/jobs.py), so a run is claimed by one
process even when two run the job at once (a lease changing hands).

Each tick it first plans: one ``module_schedule_runs`` row per module, schedule and community
the module serves, with when it next runs. The registry's modules serve the communities a
:class:`ModuleCommunities` names (every community unless a feature provides
:data:`~waddlebot.features.shared.MODULE_COMMUNITIES`); more modules with schedules come from a
:class:`ScheduledModules` (the marketplace's installed catalogue modules, each with the
schedules and client of the version a community installed). Then the due
rows are claimed, moving ``next_run_at`` to the first run after now, so runs missed while no
router ran are made up once, not one by one. Each claimed run calls the module with a
``kind="schedule"`` request for that community, and what it says is posted in each of the
community's places the way timers post (the outbox), channel replies only: there is nobody
to whisper to, and actions and overlay updates are left for later.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.core.contract import ModuleRequest, ModuleResponse, OutboundMessage, Visibility
from waddlebot.core.events import Platform, new_id
from waddlebot.core.schedule import ScheduleSpec
from waddlebot.infra import metrics, outbox
from waddlebot.infra.db.engine import Database
from waddlebot.infra.db.models import Community, Entity, ModuleScheduleRun
from waddlebot.infra.jobs import ClaimOnceJob, DueQuery, DueRow, claim_row
from waddlebot.infra.ports import Bus
from waddlebot.router.modules import ModuleClient, ModuleRegistry

log = structlog.get_logger(__name__)

JOB_NAME = "module-schedules"
Runs = ModuleScheduleRun


class ModuleCommunities(Protocol):
    """Which communities a module serves (the marketplace's installs)."""

    async def communities(self, module: str) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class Served:
    """A module's scheduled handlers in one community: its schedules there, and the client
    that runs them for it."""

    module: str
    community_id: int
    client: ModuleClient
    schedules: Sequence[ScheduleSpec]


class ScheduledModules(Protocol):
    """Modules with scheduled handlers beyond the registry's (the marketplace's)."""

    async def scheduled(self) -> Sequence[Served]:
        """Each such module in each community it serves now."""


class EveryCommunity:
    """Every module serves every community: the answer until modules are installed per
    community."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def communities(self, module: str) -> list[int]:
        async with self._db.session() as session:
            return list(await session.scalars(select(Community.id).order_by(Community.id)))


@dataclass(frozen=True, slots=True)
class _Due:
    row_id: int
    module: str
    schedule: str
    community_id: int
    next_run_at: datetime


# each scheduled module's communities, each with the client to call and the schedules by name
_Plan = Mapping[str, Mapping[int, tuple[ModuleClient, Mapping[str, ScheduleSpec]]]]


@dataclass(frozen=True, slots=True)
class _Place:
    entity_id: str
    platform: str
    channel_id: str


class ModuleSchedules(ClaimOnceJob[_Due, tuple[_Due, int]]):
    def __init__(
        self,
        db: Database,
        bus: Bus,
        registry: ModuleRegistry,
        communities: ModuleCommunities,
        *,
        more: ScheduledModules | None = None,
        timeout: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        """``more``: modules with schedules beside the registry's."""
        self.db = db
        self.bus = bus
        self.clock = clock or SystemClock()
        self._registry = registry
        self._communities = communities
        self._more = more
        self._timeout = timeout
        self._plan: _Plan = {}  # as planned at the start of this tick

    async def _scheduled(self) -> _Plan:
        """The modules with scheduled handlers, each in the communities it serves."""
        plan: dict[str, dict[int, tuple[ModuleClient, Mapping[str, ScheduleSpec]]]] = {}
        for client in self._registry.clients():
            if client.manifest.schedules:
                specs = {spec.name: spec for spec in client.manifest.schedules}
                served = await self._communities.communities(client.name)
                plan[client.name] = {community: (client, specs) for community in served}
        for found in await self._more.scheduled() if self._more is not None else ():
            if found.module in plan:  # the registry's module of that name runs
                continue
            specs = {spec.name: spec for spec in found.schedules}
            plan.setdefault(found.module, {})[found.community_id] = (found.client, specs)
        return plan

    async def fire_due(self, now: datetime | None = None) -> int:
        now = now or self.clock.now()
        self._plan = await self._scheduled()
        if not self._plan:
            return 0
        for module, served in self._plan.items():
            await self._plan_runs(module, served, now)
        return await super().fire_due(now)

    # ----- planning -----------------------------------------------------------------------

    async def _plan_runs(
        self,
        module: str,
        served: Mapping[int, tuple[ModuleClient, Mapping[str, ScheduleSpec]]],
        now: datetime,
    ) -> None:
        """A row for each schedule and community the module serves, planned by its spec; the
        rows of schedules or communities it no longer has go."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(Runs.id, Runs.schedule, Runs.community_id, Runs.spec).where(
                        Runs.module == module
                    )
                )
            ).all()
            known = {
                (schedule, community): (row_id, spec) for row_id, schedule, community, spec in rows
            }
            gone = [
                row_id
                for (schedule, community), (row_id, _) in known.items()
                if schedule not in served.get(community, (None, {}))[1]
            ]
            if gone:
                await session.execute(delete(Runs).where(Runs.id.in_(gone)))
            missing: list[dict[str, Any]] = []
            for community, (_, specs) in served.items():
                for spec in specs.values():
                    found = known.get((spec.name, community))
                    if found is None:
                        missing.append(self._planned(module, spec, community, now))
                    elif found[1] != spec.fingerprint:  # rescheduled: plan afresh
                        await session.execute(
                            update(Runs)
                            .where(Runs.id == found[0])
                            .values(spec=spec.fingerprint, next_run_at=spec.next_run(now))
                        )
            if missing:
                insert: Any = (
                    postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
                )
                await session.execute(
                    insert(Runs)
                    .values(missing)
                    .on_conflict_do_nothing(index_elements=["module", "schedule", "community_id"])
                )

    @staticmethod
    def _planned(module: str, spec: ScheduleSpec, community: int, now: datetime) -> dict[str, Any]:
        return {
            "module": module,
            "schedule": spec.name,
            "community_id": community,
            "spec": spec.fingerprint,
            "next_run_at": spec.next_run(now),
            "runs": 0,
        }

    # ----- the claim-once job -------------------------------------------------------------

    def _due_query(self, now: datetime) -> DueQuery:
        return (
            select(Runs.id, Runs.module, Runs.schedule, Runs.community_id, Runs.next_run_at)
            .where(Runs.next_run_at <= now, Runs.module.in_(list(self._plan)))
            .order_by(Runs.next_run_at, Runs.id)
        )

    def _due_item(self, row: DueRow) -> _Due:
        return _Due(*row)

    async def _claim(self, due: Sequence[_Due], now: datetime) -> list[tuple[_Due, int]]:
        claimed: list[tuple[_Due, int]] = []
        async with self.db.session() as session:
            for item in due:
                spec = self._served(item)[1].get(item.schedule)
                if spec is None:
                    continue  # the module went, or no longer has this schedule here
                run = await claim_row(
                    session,
                    update(Runs)
                    .where(Runs.id == item.row_id, Runs.next_run_at == item.next_run_at)
                    .values(next_run_at=spec.next_run(now), last_run_at=now, runs=Runs.runs + 1)
                    .returning(Runs.runs),
                )
                if run is not None:  # else another process claimed this run
                    claimed.append((item, int(run)))
        return claimed

    def _community(self, claimed: tuple[_Due, int]) -> int:
        return claimed[0].community_id

    async def _messages(
        self, claimed: Sequence[tuple[_Due, int]], now: datetime
    ) -> list[OutboundMessage]:
        places = await self._places({item.community_id for item, _ in claimed})
        runs = [
            self._run(client, item, run, places.get(item.community_id, []))
            for item, run in claimed
            if (client := self._served(item)[0]) is not None
        ]
        return [message for messages in await asyncio.gather(*runs) for message in messages]

    def _served(self, item: _Due) -> tuple[ModuleClient | None, Mapping[str, ScheduleSpec]]:
        """The client and schedules of the item's module in its community, as planned."""
        return self._plan.get(item.module, {}).get(item.community_id, (None, {}))

    async def _places(self, communities: set[int]) -> dict[int, list[_Place]]:
        """Each community's places (entities), oldest first."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(Entity.community_id, Entity.id, Entity.platform, Entity.channel_id)
                .where(Entity.community_id.in_(communities))
                .order_by(Entity.created_at, Entity.id)
            )
            found: dict[int, list[_Place]] = defaultdict(list)
            for community, *place in rows.all():
                found[community].append(_Place(*place))
        return found

    async def _run(
        self, client: ModuleClient, item: _Due, run: int, places: list[_Place]
    ) -> list[OutboundMessage]:
        """One run for one community: the module's answer as messages to its places."""
        if not places:
            log.debug("scheduled handler skipped: no place", module=item.module, run=run)
            return []
        first = places[0]
        request = ModuleRequest(
            session_id=new_id(),
            kind="schedule",
            community_id=item.community_id,
            entity_id=first.entity_id,
            platform=cast(Platform, first.platform),
            channel_id=first.channel_id,
            command=item.schedule,
            occurred_at=item.next_run_at,
        )
        response = await self._call(client, request)
        if response is None:
            return []
        if response.actions or response.overlay:
            log.info("scheduled handler's actions and overlay updates dropped", module=client.name)
        messages = []
        for n, reply in enumerate(response.replies):
            if reply.visibility == Visibility.DIRECT:
                log.info("scheduled handler's direct reply dropped", module=client.name)
                continue
            for place in places:
                messages.append(
                    outbox.message(
                        f"schedule:{item.row_id}:{run}:{n}:{place.entity_id}",
                        place.platform,
                        reply.text,
                        entity_id=place.entity_id,
                        channel_id=place.channel_id,
                    )
                )
        return messages

    async def _call(self, client: ModuleClient, request: ModuleRequest) -> ModuleResponse | None:
        """A failure is logged and counted; the run is spent (at most once, never twice)."""
        try:
            async with asyncio.timeout(self._timeout):
                return await client.call(request)
        except TimeoutError:
            reason = "timeout"
            log.error("scheduled handler timed out", module=client.name, schedule=request.command)
        except Exception:
            reason = "error"
            log.exception("scheduled handler failed", module=client.name, schedule=request.command)
        metrics.MODULE_ERRORS.labels(client.name, reason).inc()
        return None
