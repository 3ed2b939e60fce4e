"""``ctx.store`` and ``ctx.config`` in a module called directly (``Module.handle``), and
:func:`validated_config` as ``!module config`` uses it."""

from __future__ import annotations

import pytest

from waddlebot.core.contract import Caller, Identity, ModuleRequest
from waddlebot.core.module_config import ConfigError, validated_config
from waddlebot.sdk import Context, Module
from waddlebot.sdk.store import Limits, MemoryStore, StoreUnavailable

SCHEMA = {
    "type": "object",
    "properties": {
        "max_length": {"type": "integer", "minimum": 1, "default": 300},
        "greeting": {"type": "string", "default": "hi"},
        "limits": {
            "type": "object",
            "properties": {"per_user": {"type": "integer", "default": 3}},
        },
    },
    "additionalProperties": False,
}

module = Module("songs", config_schema=SCHEMA)


@module.command("request")
async def request_song(ctx: Context) -> str:
    queue = await ctx.store.channel.update("queue", lambda q: [*q, ctx.args[0]], default=[])
    mine = await ctx.store.person.increment("requested")
    return f"{len(queue)} queued, {mine} by you, max {ctx.config['max_length']}s"


@module.command("settings")
async def settings(ctx: Context) -> str:
    return repr(dict(ctx.config))


@module.command("hoard")
async def hoard(ctx: Context) -> str:
    await ctx.store.community.set("hoard", "x" * 2_000)
    return "kept"


def call(command: str, *args: str, config: dict[str, object] | None = None) -> ModuleRequest:
    return ModuleRequest(
        session_id="s",
        community_id=1,
        entity_id="twitch:1337",
        platform="twitch",
        command=command,
        args=list(args),
        caller=Caller(identity=Identity(platform="twitch", user_id="u1", login="mia")),
        config=config or {},
    )


async def test_a_handler_remembers_through_the_store_it_is_given() -> None:
    store = MemoryStore()
    first = await module.handle(call("request", "song-a"), store=store)
    second = await module.handle(call("request", "song-b", config={"max_length": 60}), store=store)
    assert first.replies[0].text == "1 queued, 1 by you, max 300s"
    assert second.replies[0].text == "2 queued, 2 by you, max 60s"


async def test_without_a_store_using_it_says_how_to_get_one() -> None:
    with pytest.raises(StoreUnavailable, match=r"store=MemoryStore\(\)"):
        await module.handle(call("request", "song-a"))


async def test_a_full_store_is_said_as_a_sentence() -> None:
    store = MemoryStore(limits=Limits(total_bytes=1_024, value_bytes=4_000))
    response = await module.handle(call("hoard"), store=store)
    assert response.replies[0].text == (
        "The songs module has no room left in this community (it may keep 1,024 bytes); "
        "remove something first."
    )
    assert store.used("songs", 1) == 0  # nothing was kept


async def test_config_is_the_settings_over_the_schema_defaults_and_read_only() -> None:
    response = await module.handle(call("settings", config={"limits": {"other": 1}}))
    assert response.replies[0].text == repr(
        {"max_length": 300, "greeting": "hi", "limits": {"per_user": 3, "other": 1}}
    )
    ctx = Context(call("settings"), config={"a": 1})
    with pytest.raises(TypeError):
        ctx.config["a"] = 2  # type: ignore[index]


def test_validated_config_lists_everything_wrong() -> None:
    assert validated_config(SCHEMA, {"max_length": 60}) == {
        "max_length": 60,
        "greeting": "hi",
        "limits": {"per_user": 3},
    }
    with pytest.raises(ConfigError) as caught:
        validated_config(SCHEMA, {"max_length": 0, "greeting": 5, "colour": "red"})
    assert caught.value.problems == [
        "settings: Additional properties are not allowed ('colour' was unexpected)",
        "greeting: 5 is not of type 'string'",
        "max_length: 0 is less than the minimum of 1",
    ]
    assert str(caught.value).startswith("the settings do not fit: settings: Additional")
    assert validated_config({}, {"anything": [1]}) == {"anything": [1]}
    with pytest.raises(ConfigError, match="not a valid JSON Schema"):
        validated_config({"type": "no-such-type"}, {})
