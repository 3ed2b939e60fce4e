"""``waddlebot events dead-letters list|replay`` as an operator runs it: against Redis
directly (with a router running), and against a running embedded bot over HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.test_cli import run
from tests.support.harness import chat_event, make_settings, serving
from waddlebot.cli.failures import EX_CONFIG
from waddlebot.core.events import Event
from waddlebot.features.identity import apikeys
from waddlebot.infra import keys
from waddlebot.infra.codec import decode_outbound, encode_dead_letter, encode_envelope
from waddlebot.infra.ports import Bus
from waddlebot.router.pipeline import processing_claim
from waddlebot.runtime import Runtime

REPLIES = keys.replies_stream("twitch")


def bury(event: Event | None, raw: bytes = b"", reason: str = "failed in 5 deliveries") -> bytes:
    payload = encode_envelope(event) if event is not None else raw
    return encode_dead_letter(
        payload, reason=reason, deliveries=6, entry_id="1-0", dead_at=time.time()
    )


async def answers(bus: Bus, event: Event, timeout: float = 20) -> list[str]:
    """The Twitch replies to ``event``: read until the first comes (or ``timeout``), then a
    moment longer, when a wrongful second answer would come."""
    texts: list[str] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        for message in await bus.read(REPLIES, "cli-test", "t", 1000, 100):
            reply = decode_outbound(message.data)
            if reply.event_id == event.event_id:
                texts.append(reply.text)
        if texts and end > loop.time() + 0.3:
            end = loop.time() + 0.3
    return texts


@pytest.fixture
async def router(
    migrated_postgres_url: str, redis_url: str, key_prefix: str, tmp_path: Path
) -> AsyncIterator[Runtime]:
    settings = make_settings(
        database_url=migrated_postgres_url,
        redis_url=redis_url,
        stream_prefix=key_prefix,
        auto_migrate=True,
        data_dir=str(tmp_path),
    )
    runtime = await Runtime.start(settings, {"router"})
    try:
        await runtime.ports.bus.ensure_group(REPLIES, "cli-test")
        yield runtime
    finally:
        await runtime.stop()


async def test_listing_and_replaying_on_redis(
    router: Runtime, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    bus, cache = router.ports.bus, router.ports.cache
    stuck = chat_event("!echo at last", user_id="7", login="seven")
    # its failed attempts left its claim "processing", as a database failing after the
    # dedupe claim does
    await cache.set(keys.dedupe_key("twitch", stuck.message_id), processing_claim(stuck.event_id))
    done = chat_event("!echo done already")
    await cache.set(keys.dedupe_key("twitch", done.message_id), b"d")
    await bus.publish(
        keys.DEAD_LETTER_STREAM,
        [bury(stuck), bury(done), bury(None, b"garbage", "malformed: invalid JSON")],
    )
    env = {"WADDLEBOT_REDIS_URL": redis_url, "WADDLEBOT_STREAM_PREFIX": key_prefix}

    def cli(*args: str) -> tuple[int, str, str]:
        result = run(["events", "dead-letters", *args], tmp_path, env)
        return result.returncode, result.stdout, result.stderr

    code, out, err = await asyncio.to_thread(cli, "list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == "ID DEAD AT (UTC) PLATFORM PLACE DELIVERIES REASON TEXT".split()
    assert len(lines) == 5 and lines[-1] == "3 dead letters"
    assert "twitch:1337" in lines[1] and "failed in 5 deliveries" in lines[1]
    assert lines[1].endswith("!echo at last") and lines[2].endswith("!echo done already")
    assert "malformed: invalid JSON" in lines[3] and lines[3].endswith("garbage")

    code, out, err = await asyncio.to_thread(cli, "list", "--json")
    assert code == 0, err
    letters = json.loads(out)
    assert [letter["event_id"] for letter in letters] == [stuck.event_id, done.event_id, ""]
    assert letters[0]["deliveries"] == 6 and letters[0]["platform"] == "twitch"
    ids = [letter["id"] for letter in letters]

    code, out, err = await asyncio.to_thread(cli, "replay", ids[0])
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"{ids[0]}  replayed  event {stuck.event_id}")
    assert await answers(bus, stuck) == ["at last"]

    code, out, _ = await asyncio.to_thread(cli, "replay", "--all")
    assert code == 1  # the malformed one is left
    assert "already answered; removed from the dead letters" in out
    assert "malformed; left where it is" in out
    assert out.splitlines()[-1] == "replayed 0, already answered 1, not found 0, malformed 1"
    assert await answers(bus, done, timeout=1) == []

    code, out, _ = await asyncio.to_thread(cli, "replay", ids[0])
    assert code == 1 and "not found" in out
    code, _, err = await asyncio.to_thread(cli, "replay", "nonsense")
    assert code == 1 and "'nonsense' is not a dead letter id" in err
    code, _, err = await asyncio.to_thread(cli, "replay")
    assert code == 2 and "give dead letter ids, or --all" in err


async def test_listing_and_replaying_through_a_running_embedded_bot(tmp_path: Path) -> None:
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db", data_dir=str(tmp_path)
    )
    async with serving(settings) as (url, runtime):
        bus = runtime.ports.bus
        await bus.ensure_group(REPLIES, "cli-test")
        _, key = await apikeys.create_key(runtime.db, "operator")
        env = {"WADDLEBOT_API_KEY": key}

        def cli(*args: str, environ: dict[str, str] = env) -> tuple[int, str, str]:
            result = run(["events", "dead-letters", *args, "--url", url], tmp_path, environ)
            return result.returncode, result.stdout, result.stderr

        code, out, err = await asyncio.to_thread(cli, "list")
        assert (code, out) == (0, "no dead letters\n"), err
        lost = chat_event("!echo found again")
        await bus.publish(keys.DEAD_LETTER_STREAM, [bury(lost)])
        code, out, err = await asyncio.to_thread(cli, "list", "--json")
        assert code == 0, err
        (letter,) = json.loads(out)
        assert letter["event_id"] == lost.event_id and letter["text"] == "!echo found again"

        code, out, err = await asyncio.to_thread(cli, "replay", letter["id"])
        assert code == 0, err
        assert await answers(bus, lost) == ["found again"]

        code, _, err = await asyncio.to_thread(
            cli, "list", environ={"WADDLEBOT_API_KEY": "wbk_wrong"}
        )
        assert code == EX_CONFIG  # the key is a setting to fix
        assert "HTTP 401" in err and "check the API key" in err
