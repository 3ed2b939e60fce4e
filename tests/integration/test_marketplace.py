"""The marketplace from chat and over HTTP, embedded and distributed: the catalogue, a
community installing an HTTP module after reviewing it, settings, switching modules off and on
(WaddleBot's own too), clashes, grants, and one community's choices never touching another's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from tests.support import scheduled
from tests.support.community_api import Api, community_api
from tests.support.harness import free_port, say, serving_app, until
from waddlebot.core.clock import ManualClock
from waddlebot.core.events import EventType
from waddlebot.core.manifest import Permission
from waddlebot.features.shared import CATALOGUE, MODULE_VIEWS
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms import CONSOLE
from waddlebot.runtime import Runtime
from waddlebot.sdk import Context, Module
from waddlebot.sdk.server import create_module_app
from waddlebot.settings import Settings

SECRET = "a-module-secret-for-the-catalogue"


def kudos_module(version: str = "1.0.0", *, whispers: bool = False, psst: bool = True) -> Module:
    """kudos at ``version``; ``whispers``: a later one that asks to whisper and to read
    raids too, and has a !hush; ``psst`` False: one that dropped its !psst."""
    module = Module(
        "kudos",
        version=version,
        description="Thank people in chat",
        author="Mia",
        homepage="https://example.org/kudos",
        # 1.0.0 asks for no whispers and no overlays
        permissions=(Permission.CHAT_SEND, *([Permission.CHAT_WHISPER] if whispers else [])),
        config_schema={
            "type": "object",
            "properties": {"points": {"type": "integer", "minimum": 1}},
            "additionalProperties": False,
        },
    )

    @module.command("kudos", usage="<who>")
    async def give(ctx: Context) -> None:
        points = ctx.request.config.get("points", 1)
        ctx.reply(f"{ctx.args[0] if ctx.args else 'everyone'} gets {points} kudos")

    if psst:

        @module.command("psst")
        async def whisper_aloud(ctx: Context) -> None:
            ctx.reply("said aloud")
            ctx.direct("a whisper it may not send")
            ctx.overlay.ticker("an overlay it may not touch")

    @module.on(EventType.FOLLOW)
    async def followed(ctx: Context) -> str:
        return "thanks for the follow"

    if whispers:

        @module.on(EventType.RAID)
        async def raided(ctx: Context) -> str:
            return "thanks for the raid"

        @module.command("hush")
        async def hush(ctx: Context) -> None:
            ctx.direct("only you hear this")

    return module


kudos = kudos_module()


clashing = Module("clashing", version="2.1.0", description="Has an !echo of its own")


@clashing.command("echo")
async def echo(ctx: Context) -> str:
    return "the other echo"


nudge = Module(
    "nudge",
    version="1.0.0",
    description="Reminds chat to stretch",
    permissions=(Permission.CHAT_SEND,),
)


@nudge.every("10m")
async def stretch(ctx: Context) -> str:
    return f"Stretch, community {ctx.request.community_id}!"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A secret key, which the catalogue encrypts module secrets with (processes sharing a
    Redis must be given one)."""
    return settings.model_copy(update={"secret_keys": [SecretStr(SecretBox.generate_key())]})


@dataclass
class Market:
    runtime: Runtime
    kudos_url: str
    clashing_url: str


@pytest.fixture
async def market(runtime: Runtime) -> AsyncIterator[Market]:
    async with (
        serving_app(create_module_app(kudos, SECRET.encode())) as kudos_url,
        serving_app(create_module_app(clashing, SECRET.encode())) as clashing_url,
    ):
        catalogue = runtime.need(CATALOGUE)
        await catalogue.register(kudos_url, SECRET, actor="operator")
        await catalogue.register(clashing_url, SECRET, actor="operator")
        yield Market(runtime, kudos_url, clashing_url)


async def owner(runtime: Runtime, text: str, channel: str = "local") -> list[str]:
    return await say(runtime, text, user="olive", role="owner", channel=channel)


async def test_search_info_and_list_show_the_catalogue(market: Market) -> None:
    rt = market.runtime
    (found,) = await owner(rt, "!module search thank")
    assert found == "Modules matching thank: kudos 1.0.0"
    (info,) = await owner(rt, "!module info kudos")
    assert info == (
        "kudos 1.0.0 by Mia: Thank people in chat. Commands: !kudos, !psst. Asks to post in "
        "chat. https://example.org/kudos"
    )
    (listing,) = await owner(rt, "!module list")
    assert "memories 1.0.0 (on)" in listing and "kudos" not in listing  # not installed yet
    assert await owner(rt, "!module info nope") == [
        "There is no module called 'nope' in the catalogue."
    ]


async def test_install_after_review_then_configure_disable_and_uninstall(market: Market) -> None:
    rt = market.runtime
    assert await owner(rt, "!kudos bob") == []  # not installed: another bot's command, maybe
    assert await owner(rt, "!module install kudos") == [
        "kudos 1.0.0 adds !kudos, !psst, reads follow events, and asks to post in chat. "
        "Say !module install kudos yes to install it."
    ]
    assert await owner(rt, "!kudos bob") == []  # the review installs nothing
    assert await owner(rt, "!module install kudos yes") == [
        "Installed kudos 1.0.0. Commands: !kudos, !psst."
    ]
    assert await say(rt, "!kudos bob") == ["bob gets 1 kudos"]
    (listing,) = await owner(rt, "!module list")
    assert "kudos 1.0.0 (on, ok, p99 " in listing  # its health, as this router saw it

    assert await owner(rt, "!module config kudos points 5") == ["kudos: points is now 5."]
    assert await say(rt, "!kudos bob") == ["bob gets 5 kudos"]
    (refused,) = await owner(rt, "!module config kudos points none")
    assert refused == "Points must be an integer."
    (refused,) = await owner(rt, "!module config kudos colour red")
    assert refused.startswith("There is no setting 'colour'")

    assert await owner(rt, "!module disable kudos") == ["kudos is off here now."]
    assert await say(rt, "!kudos bob") == []
    assert await owner(rt, "!module enable kudos") == ["kudos is on here now."]
    assert await say(rt, "!kudos bob") == ["bob gets 5 kudos"]  # its settings kept

    assert await say(rt, "!module disable kudos") == [
        "@alice, !module is for moderator level and up."
    ]
    assert await owner(rt, "!module uninstall kudos") == [
        "Uninstalled kudos (what it stored is kept; --purge deletes it)."
    ]
    assert await say(rt, "!kudos bob") == []


async def test_the_bots_own_modules_switch_off_and_on_but_not_the_core(market: Market) -> None:
    rt = market.runtime
    (added,) = await owner(rt, "!quote add the cake is a lie")
    assert "#1" in added, added
    assert await owner(rt, "!module disable memories") == ["memories is off here now."]
    assert await say(rt, "!quote 1") == []
    (listing,) = await owner(rt, "!module list")
    assert "memories 1.0.0 (off)" in listing
    assert await owner(rt, "!module enable memories") == ["memories is on here now."]
    (quote,) = await say(rt, "!quote 1")
    assert "the cake is a lie" in quote
    assert await owner(rt, "!module disable core") == [
        "Core is part of the bot's core and always on."
    ]
    assert await owner(rt, "!module uninstall memories") == [
        "Memories is part of the bot; switch it off with disable instead."
    ]


async def test_one_communitys_modules_are_its_own(market: Market) -> None:
    rt = market.runtime
    await owner(rt, "!module install kudos yes")
    await owner(rt, "!module disable memories")
    # another place is another community: nothing installed, nothing switched off
    assert await say(rt, "!kudos bob", channel="elsewhere") == []
    assert await say(rt, "!quote add hello there", channel="elsewhere") != []
    assert await say(rt, "!kudos bob") == ["bob gets 1 kudos"]


async def test_help_lists_what_this_community_has(market: Market) -> None:
    rt = market.runtime
    (listing,) = await say(rt, "!help")
    assert "!quote" in listing and "!kudos" not in listing  # kudos is not installed yet
    await owner(rt, "!module install kudos as kudos=thanks yes")
    await owner(rt, "!module disable memories")
    (listing,) = await say(rt, "!help")
    assert "!thanks" in listing and "!psst" in listing
    assert "!kudos" not in listing and "!quote" not in listing
    (everything,) = await say(rt, "!help all")
    assert "!thanks" in everything and "!quote" not in everything
    assert await say(rt, "!help thanks") == ["Usage: !thanks <who>"]
    assert await say(rt, "!help quote") == [
        "Usage: !help [command | all] (there is no command !quote)"
    ]
    assert await say(rt, "!help kudos") == [
        "Usage: !help [command | all] (there is no command !kudos)"
    ]
    # another community has neither change
    (there,) = await say(rt, "!help", channel="elsewhere")
    assert "!quote" in there and "!thanks" not in there and "!psst" not in there
    await owner(rt, "!module disable kudos")
    (listing,) = await say(rt, "!help")
    assert "!thanks" not in listing and "!psst" not in listing


async def test_a_clashing_command_is_refused_unless_renamed(market: Market) -> None:
    rt = market.runtime
    assert await owner(rt, "!module install clashing yes") == [
        "!echo of clashing clashes with !echo of testkit; install it with as echo=<new name>."
    ]
    assert await owner(rt, "!module install clashing as echo=echo2 yes") == [
        "Installed clashing 2.1.0. Commands: !echo2."
    ]
    assert await say(rt, "!echo2") == ["the other echo"]
    assert await say(rt, "!echo hi") == ["hi"]  # the operator's module keeps its own


async def test_what_was_not_granted_is_dropped(market: Market) -> None:
    rt = market.runtime
    await owner(rt, "!module install kudos yes")
    # granted: chat.send only; the whisper and the overlay update never leave the router
    assert await say(rt, "!psst") == ["said aloud"]


async def test_an_upgrade_asking_for_more_waits_for_the_admins_yes(market: Market) -> None:
    rt = market.runtime
    await owner(rt, "!module install kudos as kudos=thanks yes")
    assert await owner(rt, "!module upgrade kudos") == [
        "Kudos is at its latest version (1.0.0) here."
    ]
    async with serving_app(
        create_module_app(kudos_module("1.1.0", whispers=True), SECRET.encode())
    ) as url:
        await rt.need(CATALOGUE).register(url, SECRET, actor="operator")
        assert await owner(rt, "!module upgrade kudos") == [
            "kudos 1.1.0 asks for more: whisper people, read raid events. "
            "Say !module upgrade kudos yes to allow it."
        ]
        # until the admin says yes, kudos stays at 1.0.0 with 1.0.0's grants and commands
        assert await say(rt, "!psst") == ["said aloud"]
        assert await say(rt, "!hush") == []
        (listing,) = await owner(rt, "!module list")
        assert "kudos 1.0.0 (on" in listing
        assert await say(rt, "!module upgrade kudos yes", role="moderator") == [
            "Only admins and the owner can upgrade modules."
        ]
        assert await owner(rt, "!module upgrade kudos yes") == ["kudos is now at 1.1.0."]
        assert await say(rt, "!psst") == ["said aloud", "(private) a whisper it may not send"]
        assert await say(rt, "!thanks bob") == ["bob gets 1 kudos"]  # its name here kept
        assert await say(rt, "!hush") == ["(private) only you hear this"]
        community_id = (await rt.directory.resolve_entity("console:local", "console")).community_id
        (raids,) = (await rt.need(MODULE_VIEWS).views([community_id]))[community_id].listeners(
            EventType.RAID
        )
        assert raids.manifest.version == "1.1.0"  # the community's version, not the pool's first
        (listing,) = await owner(rt, "!module list")
        assert "kudos 1.1.0 (on" in listing
        assert await owner(rt, "!module upgrade kudos") == [
            "Kudos is at its latest version (1.1.0) here."
        ]


async def test_an_upgrade_asking_for_nothing_new_needs_no_yes(market: Market) -> None:
    rt = market.runtime
    await owner(rt, "!module install kudos yes")
    async with serving_app(create_module_app(kudos_module("1.0.1"), SECRET.encode())) as url:
        await rt.need(CATALOGUE).register(url, SECRET, actor="operator")
        assert await owner(rt, "!module upgrade kudos") == ["kudos is now at 1.0.1."]
        assert await say(rt, "!psst") == ["said aloud"]  # still no whispers
    assert await owner(rt, "!module upgrade memories") == [
        "Memories is part of the bot and always at its version."
    ]
    assert await owner(rt, "!module upgrade clashing") == ["Clashing is not installed here."]


async def test_an_upgrade_dropping_a_renamed_command_drops_the_rename(market: Market) -> None:
    rt = market.runtime
    await owner(rt, "!module install kudos as psst=shh yes")
    assert await say(rt, "!shh") == ["said aloud"]
    module = kudos_module("2.0.0", psst=False)
    async with serving_app(create_module_app(module, SECRET.encode())) as url:
        await rt.need(CATALOGUE).register(url, SECRET, actor="operator")
        assert await owner(rt, "!module upgrade kudos") == ["kudos is now at 2.0.0."]
        assert await say(rt, "!shh") == []
        assert await say(rt, "!kudos bob") == ["bob gets 1 kudos"]


async def test_an_installed_modules_schedule_runs_where_it_is_installed_and_on(
    runtime: Runtime,
) -> None:
    await runtime.scheduler.stop()  # the test ticks by hand
    clock = ManualClock()
    runtime.scheduler.clock = runtime.module_schedules.clock = clock
    bus = runtime.ports.bus

    async def tick(**delta: float) -> list[str]:
        clock.advance(**delta)
        assert await runtime.scheduler.tick()
        return [m.entity_id for m in await scheduled.posted(bus, "console", "schedule:")]

    console = runtime.collector(CONSOLE)
    assert console is not None
    async with serving_app(create_module_app(nudge, SECRET.encode())) as url:
        await runtime.need(CATALOGUE).register(url, SECRET, actor="operator")
        assert await owner(runtime, "!module install nudge yes") == ["Installed nudge 1.0.0."]
        await say(runtime, "hi", channel="elsewhere")  # another community, without it
        watcher = console.open("bob", "everyone", "local")
        assert await tick() == []  # planned: the first run is 10 minutes away
        assert await tick(minutes=10) == ["console:local"]
        line = await asyncio.wait_for(watcher.lines.get(), 5)
        community = await runtime.directory.resolve_entity("console:local", "console")
        assert line.text == f"Stretch, community {community.community_id}!"
        assert await owner(runtime, "!module disable nudge") == ["nudge is off here now."]
        assert await tick(minutes=10) == []
        assert await owner(runtime, "!module enable nudge") == ["nudge is on here now."]
        await tick()  # planned again
        assert await tick(minutes=10) == ["console:local"]
    console.close(watcher)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with community_api(settings) as found:
        yield found


async def test_the_marketplace_over_http(api: Api) -> None:
    http = api.http
    async with serving_app(create_module_app(kudos, SECRET.encode())) as module_url:
        # registering is the operator's: a person's key may not
        refused = await http.post(
            "/api/v1/marketplace/catalogue",
            json={"url": module_url, "secret": SECRET},
            headers=api.admin_a,
        )
        assert refused.status_code == 403
        registered = await http.post(
            "/api/v1/marketplace/catalogue",
            json={"url": module_url, "secret": SECRET},
            headers=api.service,
        )
        assert registered.status_code == 201, registered.text
        assert registered.json()["schema_valid"] is True
        assert "secret" not in registered.text.lower().replace("secret_", "")

        found = await http.get("/api/v1/marketplace/catalogue?q=kudos", headers=api.admin_a)
        assert [e["name"] for e in found.json()["items"]] == ["kudos"]

        base = f"/api/v1/marketplace/communities/{api.a}/modules"
        review = await http.post(f"{base}/kudos/review", json={}, headers=api.admin_a)
        assert review.json()["commands"] == ["!kudos", "!psst"]
        assert review.json()["permissions"] == ["chat.send"]
        assert review.json()["events"] == ["follow"]
        unconfirmed = await http.post(base, json={"module": "kudos"}, headers=api.admin_a)
        assert unconfirmed.status_code == 422
        by_moderator = await http.post(
            base, json={"module": "kudos", "confirm": True}, headers=api.moderator_a
        )
        assert by_moderator.status_code == 403
        installed = await http.post(
            base, json={"module": "kudos", "confirm": True}, headers=api.admin_a
        )
        assert installed.status_code == 201, installed.text
        assert installed.json()["grants"] == ["chat.send"]

        changed = await http.patch(
            f"{base}/kudos", json={"config": {"points": 0}}, headers=api.admin_a
        )
        assert changed.status_code == 422
        assert "points" in changed.json()["detail"]
        changed = await http.patch(
            f"{base}/kudos", json={"config": {"points": 3}, "enabled": False}, headers=api.admin_a
        )
        assert changed.json()["config"] == {"points": 3} and changed.json()["enabled"] is False

        listed = await http.get(base, headers=api.moderator_a)
        names = {m["name"]: m for m in listed.json()["items"]}
        assert names["kudos"]["enabled"] is False and names["memories"]["enabled"] is True

        # community B: nothing of A's choices, and A's admin cannot touch it
        other = f"/api/v1/marketplace/communities/{api.b}/modules"
        assert "kudos" not in {
            m["name"] for m in (await http.get(other, headers=api.service)).json()["items"]
        }
        assert (await http.get(other, headers=api.admin_a)).status_code == 403

        assert (
            await http.patch(f"{base}/core", json={"enabled": False}, headers=api.admin_a)
        ).status_code == 403
        gone = await http.delete(f"{base}/kudos", headers=api.admin_a)
        assert gone.status_code == 204
        assert (await http.delete(f"{base}/kudos", headers=api.admin_a)).status_code == 404


async def test_upgrading_over_http_needs_confirm_for_what_is_new(api: Api) -> None:
    http, catalogue = api.http, api.runtime.need(CATALOGUE)
    base = f"/api/v1/marketplace/communities/{api.a}/modules"
    async with (
        serving_app(create_module_app(kudos, SECRET.encode())) as first,
        serving_app(
            create_module_app(kudos_module("1.1.0", whispers=True), SECRET.encode())
        ) as later,
    ):
        await catalogue.register(first, SECRET, actor="operator")
        await http.post(base, json={"module": "kudos", "confirm": True}, headers=api.admin_a)
        latest = await http.post(f"{base}/kudos/upgrade", json={}, headers=api.admin_a)
        assert latest.status_code == 409
        assert latest.json()["detail"] == "kudos is at its latest version (1.0.0) here"

        await catalogue.register(later, SECRET, actor="operator")
        unconfirmed = await http.post(f"{base}/kudos/upgrade", json={}, headers=api.admin_a)
        assert unconfirmed.status_code == 409
        assert unconfirmed.json()["detail"] == (
            "kudos 1.1.0 asks for more (chat.whisper, raid); send confirm: true to allow it"
        )
        by_moderator = await http.post(
            f"{base}/kudos/upgrade", json={"confirm": True}, headers=api.moderator_a
        )
        assert by_moderator.status_code == 403
        listed = await http.get(base, headers=api.moderator_a)
        (before,) = [m for m in listed.json()["items"] if m["name"] == "kudos"]
        assert before["version"] == "1.0.0" and before["grants"] == ["chat.send"]

        upgraded = await http.post(
            f"{base}/kudos/upgrade", json={"confirm": True}, headers=api.admin_a
        )
        assert upgraded.status_code == 200, upgraded.text
        assert upgraded.json()["version"] == "1.1.0"
        assert upgraded.json()["grants"] == ["chat.send", "chat.whisper"]
        # community B never installed it
        other = f"/api/v1/marketplace/communities/{api.b}/modules/kudos/upgrade"
        assert (await http.post(other, json={}, headers=api.service)).status_code == 404


@pytest.mark.parametrize("mode", ["distributed"])  # two routers share a deployment's Redis
async def test_switching_off_reaches_every_router_at_once(
    market: Market, settings: Settings, mode: str
) -> None:
    first = market.runtime
    second = await Runtime.start(settings)
    try:
        await owner(first, "!module install kudos yes")
        community = first.directory
        community_id = (await community.resolve_entity("console:local", "console")).community_id
        views = second.need(MODULE_VIEWS)
        await views.views([community_id])
        assert views.cached(community_id) is not None
        await owner(first, "!module disable kudos")
        await until(lambda: views.cached(community_id) is None, timeout=1.0)
        for _ in range(4):  # whichever router takes it
            assert await say(second, "!kudos bob") == []
    finally:
        await second.stop()


async def test_registering_a_module_that_cannot_be_used_says_why(api: Api) -> None:
    for url, said in [
        ("http://", "http(s)://host[:port]"),
        ("https://\u00f2\U000ebb20lE", "is not a URL the bot can call"),
        (f"http://127.0.0.1:{free_port()}", "cannot reach"),
    ]:
        refused = await api.http.post(
            "/api/v1/marketplace/catalogue",
            json={"url": url, "secret": SECRET},
            headers=api.service,
        )
        assert refused.status_code == 422, refused.text
        assert said in refused.json()["detail"]


slowpoke = Module("slowpoke", version="1.0.0", description="Takes its time")


@slowpoke.command("mull")
async def mull(ctx: Context) -> str:
    await asyncio.sleep(1.5)  # longer than the router's timeout in these tests (1 s)
    return "done mulling"


async def test_an_installed_module_keeps_its_own_timeout(settings: Settings) -> None:
    configured = settings.model_copy(update={"module_timeouts": {"slowpoke": 5.0}})
    async with serving_app(create_module_app(slowpoke, SECRET.encode())) as url:
        rt = await Runtime.start(configured)
        try:
            await rt.need(CATALOGUE).register(url, SECRET, actor="operator")
            await owner(rt, "!module install slowpoke yes")
            assert await say(rt, "!mull") == ["done mulling"]
        finally:
            await rt.stop()
