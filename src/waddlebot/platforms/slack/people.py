"""Who someone is in a workspace (names, owner and admin), from ``users.info``, kept in the
shared cache for ten minutes so a busy channel costs Slack one lookup per person."""

from __future__ import annotations

import dataclasses

import orjson
import structlog
from slack_sdk.errors import SlackApiError

from waddlebot.infra.ports import Cache
from waddlebot.platforms.slack.translate import Person
from waddlebot.platforms.slack.workspaces import Workspace

log = structlog.get_logger("waddlebot.slack.people")

REMEMBER_SECONDS = 600


class People:
    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    async def get(self, workspace: Workspace, user_id: str) -> Person:
        key = f"slack:person:{workspace.team_id}:{user_id}"
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
