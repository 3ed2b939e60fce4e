"""What one process changes, another uses within a second.

Two processes' worth of services in one test, sharing PostgreSQL: a deployment on Redis, and
``waddlebot chat`` beside it (a bot of its own with in-process ports, hearing changes through
the deployment's Redis, as ``cli/chat.py`` starts it). Before the change feed each kept what
it had cached (the aliases, custom command names, prefix and roles of a community) for five
minutes. Two of a deployment's own processes share Redis and so one cache; what they keep in
a dict of their own (the Slack workspaces of the process sending replies) is tested below
too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.harness import make_settings, say
from waddlebot.infra import keys
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.db.engine import Database
from waddlebot.infra.memory import MemoryCache
from waddlebot.infra.redis_ports import RedisBroadcast, redis_client
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.slack.workspaces import Workspaces
from waddlebot.runtime import Runtime

MOD = {"role": "moderator", "user": "mia"}
OWNER = {"role": "owner", "user": "olga"}


@dataclass
class Processes:
    deployment: Runtime
    chat: Runtime  # ``waddlebot chat`` without --url

    async def community(self) -> int:
        place = await self.deployment.directory.resolve_entity("console:local", "console")
        return place.community_id


@pytest.fixture
async def processes(
    tmp_path: Path, migrated_postgres_url: str, redis_url: str, key_prefix: str
) -> AsyncIterator[Processes]:
    shared = {"database_url": migrated_postgres_url, "stream_prefix": key_prefix}
    deployment = await Runtime.start(
        make_settings(
            **shared, redis_url=redis_url, auto_migrate=True, data_dir=str(tmp_path / "a")
        )
    )
    try:
        chat = await Runtime.start(
            make_settings(**shared, data_dir=str(tmp_path / "b")),
            {"router", "console"},
            changes_url=redis_url,
        )
        try:
            yield Processes(deployment, chat)
        finally:
            await chat.stop()
    finally:
        await deployment.stop()


async def within_a_second(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``check`` until it holds; fail after a second."""
    async with asyncio.timeout(1.0):
        while not await check():
            await asyncio.sleep(0.01)


async def test_an_alias_defined_in_one_process_is_used_in_the_other(
    processes: Processes,
) -> None:
    deployment, chat = processes.deployment, processes.chat
    community = await processes.community()
    # both have looked the names of the community up (and cached that there is no !hi)
    assert await say(deployment, "!hi bob") == []
    assert await say(chat, "!hi bob") == []

    assert await say(deployment, "!alias hi='!echo hello $1'", **MOD) == [
        "Added alias !hi -> !echo hello $1."
    ]
    await within_a_second(lambda: _has_alias(chat, community, "hi"))
    assert await say(chat, "!hi bob") == ["hello bob"]

    assert await say(chat, "!alias yo='!echo yo $1'", **MOD) == ["Added alias !yo -> !echo yo $1."]
    await within_a_second(lambda: _has_alias(deployment, community, "yo"))
    assert await say(deployment, "!yo ann") == ["yo ann"]

    assert await say(chat, "!unalias hi", **MOD) == ["Removed alias !hi."]
    await within_a_second(lambda: _lacks_alias(deployment, community, "hi"))
    assert await say(deployment, "!hi bob") == []


async def _has_alias(runtime: Runtime, community: int, name: str) -> bool:
    return await runtime.aliases.lookup(community, name) is not None


async def _lacks_alias(runtime: Runtime, community: int, name: str) -> bool:
    return not await _has_alias(runtime, community, name)


async def test_a_custom_command_added_in_one_process_answers_in_the_other(
    processes: Processes,
) -> None:
    deployment, chat = processes.deployment, processes.chat
    community = await processes.community()
    assert await say(deployment, "!shout") == []
    assert await say(chat, "!addcom !shout HEY", **MOD) == ["Added !shout."]

    async def known() -> bool:
        return await deployment.commands.known(community, "shout")

    await within_a_second(known)
    assert await say(deployment, "!shout") == ["HEY"]


async def test_a_prefix_changed_in_one_process_applies_in_the_other(
    processes: Processes,
) -> None:
    deployment, chat = processes.deployment, processes.chat
    assert await say(deployment, "!ping") == ["pong"]
    assert await say(chat, "!prefix ?", role="admin") == [
        "Commands here now start with ?, as in ?help"
    ]

    async def moved() -> bool:
        entry = await deployment.ports.cache.get(keys.entity_key("console:local"))
        return entry is not None and b'"?"' in entry

    await within_a_second(moved)
    assert await say(deployment, "?ping") == ["pong"]
    assert await say(deployment, "!ping") == []


async def test_a_role_given_in_one_process_counts_in_the_other(processes: Processes) -> None:
    deployment, chat = processes.deployment, processes.chat
    community = await processes.community()
    await say(chat, "hello", **OWNER)  # the console's owner owns the community
    assert await say(deployment, "!modonly", user="carl") == [
        "@carl, !modonly is for moderator level and up."
    ]
    assert await say(chat, "!role add @carl moderator", user="olga") == [
        "@carl is now a moderator here."
    ]
    carl = await deployment.identity.find_user("console", "carl")
    assert carl is not None

    async def promoted() -> bool:
        return await deployment.ports.cache.get(keys.role_key(community, carl)) == b"moderator"

    await within_a_second(promoted)
    assert await say(deployment, "!modonly", user="carl") == ["hello moderator carl"]


async def test_a_slack_install_reaches_the_process_sending_replies_at_once(
    tmp_path: Path, migrated_postgres_url: str, redis_url: str, key_prefix: str
) -> None:
    """The OAuth callback lands on one process; the one sending replies had remembered the
    workspace as not installed (for a minute, before the feed)."""
    db = Database(migrated_postgres_url)
    box = SecretBox([SecretBox.generate_key()])
    client = redis_client(redis_url)
    broadcasts = [RedisBroadcast(client, key_prefix) for _ in range(2)]  # one per process
    feeds = [ChangeFeed(broadcast, MemoryCache()) for broadcast in broadcasts]
    callback, sender = (
        Workspaces(db, box, api_url="http://127.0.0.1:9/api/", feed=feed) for feed in feeds
    )
    try:
        for feed in feeds:
            await feed.start()
        assert await sender.get("T1") is None  # remembered as not installed
        await callback.save(
            team_id="T1", bot_user_id="U1", bot_token="xoxb-1", scopes=[], community_id=None
        )

        async def installed() -> bool:
            return await sender.get("T1") is not None

        await within_a_second(installed)
    finally:
        for feed in feeds:
            await feed.stop()
        for broadcast in broadcasts:
            await broadcast.close()
        await client.aclose()
        await db.close()
