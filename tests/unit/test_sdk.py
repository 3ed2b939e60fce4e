"""The module SDK, the registry and module loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from waddlebot.core.contract import (
    ActionKind,
    Caller,
    Identity,
    ModuleRequest,
    SetPrefixAction,
    Visibility,
)
from waddlebot.core.events import EventType
from waddlebot.router.modules import LocalModuleClient, ModuleRegistry
from waddlebot.sdk import Context, Module, UsageError
from waddlebot.sdk.loader import load_module


def request(command: str, *args: str, kind: str = "command", **extra: object) -> ModuleRequest:
    return ModuleRequest(
        session_id="s1",
        kind=kind,  # type: ignore[arg-type]
        community_id=1,
        entity_id="console:local",
        platform="console",
        message_id="m1",
        command=command,
        prefix="!",
        args=list(args),
        caller=Caller(user_id=7, identity=Identity(platform="console", user_id="al", login="al")),
        **extra,  # type: ignore[arg-type]
    )


def build() -> Module:
    module = Module("demo", version="1.2.3", description="demo")

    @module.command("hi", aliases=("hello",), cooldown=5, description="greets")
    async def hi(ctx: Context) -> str:
        return f"hi {ctx.caller_name}"

    @module.command("whisper")
    async def whisper(ctx: Context) -> None:
        ctx.direct("secret")
        ctx.overlay("alerts", {"x": 1})
        ctx.action("whisper", text="psst", to_user="bob")

    @module.command("strict", usage="<n>")
    async def strict(ctx: Context) -> None:
        raise UsageError("need a number")

    @module.on(EventType.FOLLOW, EventType.RAID)
    async def greet(ctx: Context) -> str:
        return "welcome"

    return module


async def test_handlers_build_the_response() -> None:
    module = build()
    assert [r.text for r in (await module.handle(request("hi"))).replies] == ["hi al"]
    response = await module.handle(request("whisper"))
    (reply,) = response.replies
    assert (reply.visibility, reply.to_user, reply.text) == (Visibility.DIRECT, "al", "secret")
    assert response.overlay[0].kind == "alerts" and response.actions[0].type == "whisper"
    assert (await module.handle(request("strict"))).usage_error == "need a number"
    event = request("", kind="event", event_type=EventType.RAID)
    assert [r.text for r in (await module.handle(event)).replies] == ["welcome"]


async def test_an_action_is_checked_when_the_handler_asks_for_it() -> None:
    module = Module("acting")

    @module.command("unknown")
    async def unknown(ctx: Context) -> None:
        ctx.action("shoutout", target="bob")

    @module.command("empty")
    async def empty(ctx: Context) -> None:
        ctx.action(ActionKind.WHISPER, text="")

    @module.command("prefix")
    async def prefix(ctx: Context) -> None:
        ctx.action(ActionKind.SET_PREFIX, prefix="?")

    for name in ("unknown", "empty"):
        with pytest.raises(ValidationError):
            await module.handle(request(name))
    (action,) = (await module.handle(request("prefix"))).actions
    assert isinstance(action, SetPrefixAction) and action.params.prefix == "?"


def test_manifest_describes_the_module() -> None:
    manifest = build().manifest
    assert (manifest.name, manifest.version) == ("demo", "1.2.3")
    assert [c.name for c in manifest.commands] == ["hi", "whisper", "strict"]
    assert manifest.commands[0].aliases == ("hello",) and manifest.commands[0].cooldown == 5
    assert set(manifest.events) == {EventType.FOLLOW, EventType.RAID}


def test_mistakes_in_a_module_are_caught_when_it_is_written() -> None:
    module = Module("bad")
    with pytest.raises(TypeError, match="async"):

        @module.command("sync")
        def sync(ctx: Context) -> str:  # type: ignore[misc]
            return "no"

    @module.command("twice")
    async def once(ctx: Context) -> None: ...

    with pytest.raises(ValueError, match="twice"):

        @module.command("twice")
        async def again(ctx: Context) -> None: ...


def test_registry_routes_names_and_aliases_and_refuses_clashes() -> None:
    registry = ModuleRegistry([LocalModuleClient(build())])
    assert registry.command("!", "hello") == registry.command("!", "hi")
    assert registry.command("#", "hi") is None
    assert [c.name for c in registry.listeners(EventType.FOLLOW)] == ["demo"]
    clash = Module("other")

    @clash.command("hello")
    async def hello(ctx: Context) -> None: ...

    with pytest.raises(ValueError, match="already provided by module 'demo'"):
        registry.add(LocalModuleClient(clash))
    assert registry.command("!", "hello").module == "demo"  # type: ignore[union-attr]


def test_load_module_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mymod_for_test.py").write_text(
        "from waddlebot.sdk import Module\n"
        "module = Module('mine')\n"
        "def factory():\n    return Module('built')\n"
        "not_a_module = 3\n"
    )
    monkeypatch.chdir(tmp_path)
    assert load_module("mymod_for_test:module").name == "mine"
    assert load_module("mymod_for_test:factory").name == "built"
    with pytest.raises(ValueError, match="not a waddlebot Module"):
        load_module("mymod_for_test:not_a_module")
    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        load_module("no-colon")
    with pytest.raises(ValueError, match="cannot load module"):
        load_module("does_not_exist_anywhere:module")


def test_settings_put_the_default_database_in_the_data_dir() -> None:
    from waddlebot.settings import Settings

    settings = Settings(_env_file=None, data_dir="/srv/bot/")  # type: ignore[call-arg]
    assert settings.database_url == "sqlite+aiosqlite:////srv/bot/waddlebot.db"
    explicit = Settings(_env_file=None, database_url="postgresql://db/x")  # type: ignore[call-arg]
    assert explicit.database_url == "postgresql://db/x"


def test_levels_named_for_what_they_need() -> None:
    from waddlebot.core.permissions import Level

    assert Level.at_least(200) is Level.SUBSCRIBER
    assert Level.at_least(500) is Level.MODERATOR
    assert Level.at_least(99) is Level.EVERYONE
    assert Level.at_least(9999) is Level.OWNER


async def test_a_fallback_module_gets_the_commands_nobody_declares() -> None:
    custom = Module("custom")

    @custom.command("commands")
    async def commands(ctx: Context) -> str:
        return "managing"

    @custom.fallback
    async def anything(ctx: Context) -> str:
        return f"custom {ctx.request.command}"

    registry = ModuleRegistry([LocalModuleClient(build()), LocalModuleClient(custom)])
    assert registry.command("!", "hello2") is None  # no fallback set yet
    registry.set_fallback(registry.clients()[1])
    route = registry.command("!", "hello2")
    assert route is not None and route.module == "custom" and route.spec.level == 100
    assert registry.command("!", "hi").module == "demo"  # type: ignore[union-attr]
    assert registry.command("#", "hello2") is None  # serverless names are never custom
    response = await route.client.call(request("hello2"))
    assert [r.text for r in response.replies] == ["custom hello2"]
    with pytest.raises(ValueError, match="not registered"):
        registry.set_fallback(LocalModuleClient(Module("stray")))
