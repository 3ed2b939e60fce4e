"""``#`` commands on AWS Lambda and Apache OpenWhisk, end to end, embedded and distributed: the
example ``eightball`` module (tests/fixtures/modules) packaged by ``waddlebot.serverless.package``,
deployed on the fake Lambda and OpenWhisk (which run the zips for real), registered in the
catalogue, installed by a community and asked ``#8ball`` in chat; function errors, throttling,
the breaker, the daily budget, and the same module answering alike in all four places."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from tests.fakes.lambda_api import FakeLambda
from tests.fakes.lambda_url import FakeFunctionUrl
from tests.fakes.openwhisk_api import FakeOpenWhisk
from tests.fakes.slack import FakeSlack
from tests.support.cli import invoke
from tests.support.clocks import Clock
from tests.support.community_api import community_api
from tests.support.harness import make_settings, say, serving, serving_app
from waddlebot.features.shared import CATALOGUE
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms.slack.webhook import COMMANDS_PATH
from waddlebot.router.breaker import BreakerState
from waddlebot.runtime import Runtime
from waddlebot.sdk.loader import load_module
from waddlebot.sdk.server import create_module_app
from waddlebot.serverless import MANIFEST_REQUEST
from waddlebot.serverless.clients import openwhisk_target
from waddlebot.serverless.package import package
from waddlebot.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "modules"
REGION = "eu-west-1"
SECRET = "a-secret-for-the-eightball-module"
QUESTION = "#8ball will it rain?"
ANSWER = "The 8-ball says: "


@pytest.fixture(scope="module")
def zips(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """eightball packaged for both engines, as ``waddlebot module package`` makes it."""
    sys.path.insert(0, str(FIXTURES))
    try:
        out = tmp_path_factory.mktemp("functions")
        packaged = (*TARGETS[:2], "lambda-url")
        yield {target: package("eightball:module", target, out).path for target in packaged}
    finally:
        sys.path.remove(str(FIXTURES))


TARGETS = ("lambda", "openwhisk", "function")  # "function": a signed Lambda function URL


@dataclass
class Engines:
    aws: FakeLambda
    whisk: FakeOpenWhisk
    url: FakeFunctionUrl
    zips: dict[str, Path]

    def deploy(self, handler: str = "waddlebot_handler.handler") -> None:
        """(Re)deploy eightball on Lambda, with ``handler`` as its entry."""
        self.aws.add_function("eightball", self.zips["lambda"], handler)

    def calls(self, engine: str) -> list[Any]:
        if engine == "function":
            return self.url.requests
        return self.aws.calls("eightball") if engine == "lambda" else self.whisk.calls("eightball")

    def sent(self, engine: str) -> list[Any]:
        """What each invocation carried, as the function got it."""
        if engine == "lambda":
            return [call.event for call in self.aws.calls("eightball")]
        if engine == "function":
            return [orjson.loads(r.event["body"]) for r in self.url.requests if r.event]
        return [call.args for call in self.whisk.calls("eightball")]

    def throttle(self, engine: str, times: int) -> None:
        if engine == "function":
            self.url.throttle(times)
        else:
            (self.aws if engine == "lambda" else self.whisk).throttle("eightball", times)


@pytest.fixture
async def engines(zips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Engines]:
    # the usual AWS settings, as an operator's environment gives them
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKE1234")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-access-key")
    function_url = FakeFunctionUrl(zips["lambda-url"], env={"WADDLEBOT_MODULE_SECRET": SECRET})
    async with FakeLambda(region=REGION) as aws, FakeOpenWhisk() as whisk, function_url as url:
        found = Engines(aws, whisk, url, zips)
        found.deploy()
        whisk.add_action("eightball", zips["openwhisk"])
        yield found


def configured(settings: Settings, engines: Engines, **overrides: Any) -> Settings:
    """``settings`` for a bot that reaches the fake Lambda (and keeps secrets sealed)."""
    return settings.model_copy(
        update={
            "secret_keys": [SecretStr(SecretBox.generate_key())],
            "lambda_endpoint_url": engines.aws.url,
            "lambda_region": REGION,
            "module_timeout_seconds": 10.0,
            **overrides,
        }
    )


@asynccontextmanager
async def bot(settings: Settings, engines: Engines, **overrides: Any) -> AsyncIterator[Runtime]:
    runtime = await Runtime.start(configured(settings, engines, **overrides))
    try:
        yield runtime
    finally:
        await runtime.stop()


async def owner(runtime: Runtime, text: str) -> list[str]:
    return await say(runtime, text, user="olive", role="owner")


async def installed(runtime: Runtime, engines: Engines, engine: str) -> None:
    """eightball registered from ``engine`` by the operator and installed by the community."""
    catalogue = runtime.need(CATALOGUE)
    if engine == "lambda":
        await catalogue.register_function("lambda", engines.aws.arn("eightball"), actor="op")
    elif engine == "function":
        await catalogue.register_function("function", f"{engines.url.url}/", SECRET, actor="op")
    else:
        target = openwhisk_target(engines.whisk.url, f"{engines.whisk.namespace}/eightball")
        await catalogue.register_function("openwhisk", target, engines.whisk.api_key, actor="op")
    (done,) = await owner(runtime, "!module install eightball yes")
    assert done == "Installed eightball 1.0.0. Commands: #eightball."


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("engine", TARGETS)
async def test_a_hash_command_is_answered_by_the_packaged_function(
    settings: Settings, engines: Engines, engine: str
) -> None:
    async with bot(settings, engines) as runtime:
        await installed(runtime, engines, engine)
        (info,) = await owner(runtime, "!module info eightball")
        assert "Commands: #eightball." in info
        (answer,) = await say(runtime, QUESTION)
        assert answer.startswith(ANSWER)
        assert await say(runtime, "#eightball will it rain?") == [answer]  # same question
        assert await say(runtime, "#8ball") == ["Usage: #eightball <question> (ask it a question)"]
        registered, first, again, _ = engines.sent(engine)
        assert registered == MANIFEST_REQUEST
        # the request travels as the module contract's JSON, the event id with it
        assert (first["command"], first["prefix"], first["args"]) == (
            "eightball",
            "#",
            ["will", "it", "rain?"],
        )
        assert first["event_id"] and first["event_id"] != again["event_id"]
        (budget,) = await owner(runtime, "!module budget")
        assert budget.startswith("Serverless calls today: 3 (no limit) (")
        assert budget.endswith(" s billed).")


async def test_a_function_error_is_apologised_for_and_logged(
    settings: Settings, engines: Engines
) -> None:
    async with bot(settings, engines) as runtime:
        await installed(runtime, engines, "lambda")
        engines.deploy("waddlebot_handler.no_such_handler")  # a broken deployment
        before = sample("waddlebot_module_errors_total", module="eightball", reason="error")
        assert await say(runtime, QUESTION) == ["Sorry, #8ball failed. The error has been logged."]
        assert sample("waddlebot_module_errors_total", module="eightball", reason="error") == (
            before + 1
        )
        (error,) = runtime.module_health.snapshot("eightball").recent_errors
        assert "function error" in error.detail
        engines.deploy()  # fixed: answered again, nothing else changed
        (answer,) = await say(runtime, QUESTION)
        assert answer.startswith(ANSWER)


async def test_an_openwhisk_application_error_is_apologised_for(
    settings: Settings, engines: Engines
) -> None:
    async with bot(settings, engines) as runtime:
        await installed(runtime, engines, "openwhisk")
        engines.whisk.fail("eightball", "the ball is cloudy")
        assert await say(runtime, QUESTION) == ["Sorry, #8ball failed. The error has been logged."]
        (error,) = runtime.module_health.snapshot("eightball").recent_errors
        assert "the ball is cloudy" in error.detail


@pytest.mark.parametrize("engine", TARGETS)
async def test_throttling_is_retried_within_the_deadline(
    settings: Settings, engines: Engines, engine: str
) -> None:
    async with bot(settings, engines) as runtime:
        await installed(runtime, engines, engine)
        before = len(engines.calls(engine))
        engines.throttle(engine, 2)
        (answer,) = await say(runtime, QUESTION)
        assert answer.startswith(ANSWER)
        assert len(engines.calls(engine)) - before == 3  # two 429s, then the answer


async def test_the_breaker_opens_on_a_failing_function_and_recovers(
    settings: Settings, engines: Engines
) -> None:
    async with bot(
        settings, engines, module_breaker_failures=2, module_breaker_cooldown_seconds=30
    ) as runtime:
        clock = Clock()
        runtime.module_health.clock = clock
        await installed(runtime, engines, "lambda")
        engines.aws.fail("eightball", times=2)  # Lambda's own 500s
        for _ in range(2):
            assert await say(runtime, QUESTION) == [
                "Sorry, #8ball failed. The error has been logged."
            ]
        assert runtime.module_health.state("eightball") is BreakerState.OPEN
        calls = len(engines.calls("lambda"))
        assert await say(runtime, QUESTION) == ["#8ball is unavailable right now, try again later."]
        assert len(engines.calls("lambda")) == calls  # refused without invoking
        clock.now += 30  # the cool-down: a probe goes through, works, and closes it
        (answer,) = await say(runtime, QUESTION)
        assert answer.startswith(ANSWER)
        assert runtime.module_health.state("eightball") is BreakerState.CLOSED


async def test_a_spent_daily_budget_refuses_without_invoking(
    settings: Settings, engines: Engines
) -> None:
    async with bot(settings, engines, function_daily_budget=5) as runtime:
        await installed(runtime, engines, "lambda")
        assert await owner(runtime, "!module budget 2") == [
            "Serverless functions here: 2 calls a day."
        ]
        for _ in range(2):
            (answer,) = await say(runtime, QUESTION)
            assert answer.startswith(ANSWER)
        calls = len(engines.calls("lambda"))
        assert await say(runtime, QUESTION) == [
            "#8ball cannot run: this community has used today's serverless function calls; "
            "they start again at midnight UTC."
        ]
        assert len(engines.calls("lambda")) == calls
        snapshot = runtime.module_health.snapshot("eightball")
        assert (snapshot.errors, snapshot.refused) == (0, 1)  # refused: the function is fine
        (spent,) = await owner(runtime, "!module budget")
        assert spent.startswith("Serverless calls today: 2 of 2 (")
        assert "1 refused over budget" in spent
        # back to the operator's default (5): three more today
        assert await owner(runtime, "!module budget default") == [
            "Serverless functions here: 5 calls a day."
        ]
        (answer,) = await say(runtime, QUESTION)
        assert answer.startswith(ANSWER)


@pytest.mark.parametrize("place", ["in-process", "http", *TARGETS])
async def test_the_same_module_answers_alike_wherever_it_runs(
    settings: Settings, engines: Engines, place: str
) -> None:
    """Written once: in the bot's process, served over HTTP, on Lambda and on OpenWhisk."""
    sys.path.insert(0, str(FIXTURES))
    try:
        eightball = load_module("eightball:module")
        from eightball.answers import CLASSIC, pick

        overrides = (
            {"modules": [*settings.modules, "eightball:module"]} if place == "in-process" else {}
        )
        async with (
            serving_app(create_module_app(eightball, SECRET.encode())) as url,
            bot(settings, engines, **overrides) as runtime,
        ):
            if place == "http":
                await runtime.need(CATALOGUE).register(url, SECRET, actor="op")
                await owner(runtime, "!module install eightball yes")
            elif place in TARGETS:
                await installed(runtime, engines, place)
            answers = [
                *(await say(runtime, QUESTION)),
                *(await say(runtime, "#8ball is this the same everywhere?")),
                *(await owner(runtime, '!module config eightball answers ["Yes."]')),
                *(await say(runtime, QUESTION)),
            ]
    finally:
        sys.path.remove(str(FIXTURES))
    assert answers == [
        ANSWER + pick(QUESTION.removeprefix("#8ball "), CLASSIC),
        ANSWER + pick("is this the same everywhere?", CLASSIC),
        "eightball: answers is now ['Yes.'].",
        ANSWER + "Yes.",
    ]


async def test_a_function_slower_than_slacks_window_is_acknowledged_then_answered(
    engines: Engines, tmp_path: Path, migrated_postgres_url: str, redis_url: str, key_prefix: str
) -> None:
    """A cold start past the 3 s Slack waits for a slash command's answer: the command is
    acknowledged at once and the answer follows through its response_url."""
    async with FakeSlack() as fake:
        team = fake.add_team("Acme")
        alice = fake.add_user(team, "alice")
        boss = fake.add_user(team, "boss", is_admin=True)
        general = fake.add_channel(team, "general", members=[alice, boss])
        settings = make_settings(
            database_url=migrated_postgres_url,
            redis_url=redis_url,
            stream_prefix=key_prefix,
            auto_migrate=True,
            data_dir=str(tmp_path),
            slack_signing_secret=fake.signing_secret,
            slack_api_url=fake.api_url,
            slack_bot_token=team.bot_token,
            slack_inline_wait_seconds=0.3,  # the window, shortened: the function takes longer
        )
        async with serving(configured(settings, engines)) as (url, runtime):
            commands = f"{url}{COMMANDS_PATH}"
            await runtime.need(CATALOGUE).register_function(
                "lambda", engines.aws.arn("eightball"), actor="op"
            )
            status, body = await fake.slash_command(
                commands, team, general, boss, "/waddle", "module install eightball yes"
            )
            assert (status, json.loads(body)["text"]) == (
                200,
                "Installed eightball 1.0.0. Commands: #eightball.",
            )
            engines.aws.delay("eightball", 1.0)
            status, body = await fake.slash_command(
                commands, team, general, alice, "/waddle", "#8ball will it rain?"
            )
            assert (status, body) == (200, "")  # acknowledged within the window
            (late,) = await fake.wait_for_responses(1)
            assert late["response_type"] == "in_channel"
            assert late["text"].startswith(ANSWER)
            await fake.settle()


async def test_functions_over_http_register_count_and_budget(
    settings: Settings, engines: Engines
) -> None:
    async with community_api(configured(settings, engines)) as api:
        http, arn = api.http, engines.aws.arn("eightball")
        body = {"engine": "lambda", "target": arn}
        refused = await http.post(
            "/api/v1/marketplace/catalogue/functions", json=body, headers=api.admin_a
        )
        assert refused.status_code == 403  # registering is the operator's
        registered = await http.post(
            "/api/v1/marketplace/catalogue/functions", json=body, headers=api.service
        )
        assert registered.status_code == 201, registered.text
        assert (registered.json()["name"], registered.json()["kind"]) == ("eightball", "lambda")
        missing = await http.post(
            "/api/v1/marketplace/catalogue/functions",
            json={"engine": "lambda", "target": engines.aws.arn("nothing-here")},
            headers=api.service,
        )
        assert missing.status_code == 422
        assert "ResourceNotFound" in missing.json()["detail"]
        malformed = await http.post(
            "/api/v1/marketplace/catalogue/functions",
            json={"engine": "openwhisk", "target": "eightball", "api_host": "https://ow.test"},
            headers=api.service,
        )
        assert malformed.status_code == 422
        assert "NAMESPACE/[PACKAGE/]ACTION" in malformed.json()["detail"]

        usage = f"/api/v1/marketplace/communities/{api.a}/functions"
        budget = await http.put(f"{usage}/budget", json={"daily": 1}, headers=api.moderator_a)
        assert budget.status_code == 403  # admins set it
        budget = await http.put(f"{usage}/budget", json={"daily": 1}, headers=api.admin_a)
        assert budget.status_code == 200, budget.text
        assert (budget.json()["daily_budget"], budget.json()["own_budget"]) == (1, True)
        seen = await http.get(usage, headers=api.moderator_a)
        assert [day["invocations"] for day in seen.json()["days"]] == [0] * 7
        other = f"/api/v1/marketplace/communities/{api.b}/functions"
        assert (await http.get(other, headers=api.admin_a)).status_code == 403
        reset = await http.put(f"{usage}/budget", json={"daily": None}, headers=api.admin_a)
        assert (reset.json()["daily_budget"], reset.json()["own_budget"]) == (0, False)


async def test_register_function_from_the_command_line(engines: Engines, tmp_path: Path) -> None:
    """The command runs its own event loop: in a thread, while the fakes answer on this one."""
    env = {
        "WADDLEBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/waddlebot.db",
        "WADDLEBOT_DATA_DIR": str(tmp_path),
        "WADDLEBOT_SECRET_KEYS": SecretBox.generate_key(),
        "WADDLEBOT_MODULES": "",
        "WADDLEBOT_LAMBDA_ENDPOINT_URL": engines.aws.url,
    }
    done = await asyncio.to_thread(
        invoke, ["module", "register-function", "--lambda", engines.aws.arn("eightball")], env=env
    )
    assert done.exit_code == 0, done.output
    assert done.stdout == "Registered eightball 1.0.0 (lambda).\n"
    whisk = await asyncio.to_thread(
        invoke,
        ["module", "register-function", "--openwhisk", "guest/eightball", "--json"],
        env={
            **env,
            "WADDLEBOT_OPENWHISK_API_HOST": engines.whisk.url,
            "OPENWHISK_API_KEY": engines.whisk.api_key,
        },
    )
    assert whisk.exit_code == 0, whisk.output
    assert '"kind": "openwhisk"' in whisk.stdout
    wrong = await asyncio.to_thread(
        invoke,
        ["module", "register-function", "--openwhisk", "guest/eightball"],
        env={**env, "WADDLEBOT_OPENWHISK_API_HOST": engines.whisk.url, "OPENWHISK_API_KEY": "a:b"},
    )
    assert wrong.exit_code == 1
    assert ("Traceback" not in wrong.output and "401" in wrong.output) or "key" in wrong.output
    neither = invoke(["module", "register-function"], env=env)
    assert neither.exit_code == 2
