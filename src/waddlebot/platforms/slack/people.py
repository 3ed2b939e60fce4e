"""Who someone is in a workspace (names, owner and admin), from ``users.info``, kept in the
shared cache for ten minutes so a busy channel costs Slack one lookup per person; a burst of
messages from someone not known yet waits for one lookup, not one each."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import orjson
import structlog
from slack_sdk.errors import SlackApiError

from waddlebot.infra.ports import Cache
from waddlebot.infra.single_flight import SingleFlight
from waddlebot.platforms.slack.translate import Person
from waddlebot.platforms.slack.workspaces import Workspace

log = structlog.get_logger("waddlebot.slack.people")

REMEMBER_SECONDS = 600
# also kept in the process, so a busy channel's every message does not cost a cache round
# trip: as stale as the shared entry may be anyway, for a minute more at most
KEEP_SECONDS = 60.0
KEEP_AT_MOST = 10_000


class People:
    def __init__(self, cache: Cache, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._cache = cache
        self._clock = clock
        self._kept: dict[str, tuple[float, Person]] = {}  # key -> (kept until, person)
        self._looking: SingleFlight[str, Person] = SingleFlight()

    async def get(self, workspace: Workspace, user_id: str) -> Person:
        key = f"slack:person:{workspace.team_id}:{user_id}"
        now = self._clock()
        kept = self._kept.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        person = await self._looking.run(key, lambda: self._look_up(key, workspace, user_id))
        if len(self._kept) >= KEEP_AT_MOST:
            self._kept.clear()  # a crowd came by: start again rather than track ages
        self._kept[key] = (now + KEEP_SECONDS, person)
        return person

    async def _look_up(self, key: str, workspace: Workspace, user_id: str) -> Person:
        raw = await self._cache.get(key)
        if raw is not None:
            return Person(**orjson.loads(raw))
        try:
            found = await workspace.client.users_info(user=user_id)
        except SlackApiError as exc:  # someone Slack cannot show: no names, no roles
            log.warning("slack user not looked up", user=user_id, error=exc.response.get("error"))
            return Person(user_id)
        person = Person.from_user(found["user"], workspace.team_id)
        await self._cache.set(key, orjson.dumps(dataclasses.asdict(person)), REMEMBER_SECONDS)
        return person
