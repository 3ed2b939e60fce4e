"""Serverless (``#``) commands: the router's own cost per function invocation.

    python -m bench.functions [--calls 500] [--engine lambda|openwhisk]

Run from the repository's root: the fake Lambda and OpenWhisk are the tests' (tests/fakes), and
they run the example ``eightball`` module (tests/fixtures/modules) from its packaged zip in warm
worker processes, as the engines do. For each engine, embedded (SQLite, in-process ports, the
fakes in this process too), it prints the latency p50/p99 of

- **direct**: the function's client alone (as the catalogue builds it) calling the fake;
- **through the router**: ``#8ball <question>`` typed in the console, from the event accepted
  to the reply shown (bus, router, catalogue, budget, breaker, the same client, the way back);

sampled in turns with ``!ping`` typed alike (the pipeline without a function), one call at a
time, so the machine's moods hit all three alike; their difference (the router's overhead per
invocation); this process's CPU time per call (the figure a busy machine moves least); and
calls/s with 16 in flight. Every question is new. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import SecretStr
from tests.fakes.lambda_api import FakeLambda
from tests.fakes.openwhisk_api import FakeOpenWhisk

from bench.router import bench_settings
from waddlebot.core.contract import ModuleRequest
from waddlebot.core.events import new_id
from waddlebot.features.shared import CATALOGUE
from waddlebot.infra.logging import configure_logging
from waddlebot.infra.secretbox import SecretBox
from waddlebot.platforms import CONSOLE
from waddlebot.platforms.console.collector import ConsoleCollector, ConsoleSession
from waddlebot.runtime import Runtime
from waddlebot.serverless import Engine
from waddlebot.serverless.clients import FunctionClient, FunctionClients, openwhisk_target
from waddlebot.serverless.package import package
from waddlebot.serverless.settings import ServerlessSettings

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "modules"
REGION = "eu-west-1"
ANSWER = "The 8-ball says: "
IN_FLIGHT = 16
CHUNKS = 4  # the runs with IN_FLIGHT callers, direct and routed in turns
WARM_UP = 50  # sequential calls each way before measuring, after IN_FLIGHT workers started


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ms = sorted(x * 1000 for x in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]


class Asker:
    """Asks ``#8ball`` two ways: straight to the function, and typed in the console."""

    def __init__(self, engine: str, client: FunctionClient, console: ConsoleCollector) -> None:
        self.engine = engine
        self.client = client
        self.console = console
        self.template: ModuleRequest | None = None  # what the router sent, to send it alike
        self.asked = 0

    def question(self) -> str:
        self.asked += 1
        return f"will {self.engine} question {self.asked} come true?"

    async def direct(self) -> float:
        assert self.template is not None
        question = self.question()
        request = self.template.model_copy(
            update={
                "request_id": new_id(),
                "event_id": new_id(),
                "args": question.split(),
                "raw_text": f"#8ball {question}",
            }
        )
        started = time.perf_counter()
        response = await self.client.call(request)
        elapsed = time.perf_counter() - started
        if not response.replies or not response.replies[0].text.startswith(ANSWER):
            raise RuntimeError(f"the function answered {response!r}")
        return elapsed

    async def routed(self, session: ConsoleSession, text: str = "", expect: str = ANSWER) -> float:
        """Typed in ``session`` (``#8ball <a new question>`` unless ``text``)."""
        text = text or f"#8ball {self.question()}"
        started = time.perf_counter()
        event_id = await self.console.send(session, text)
        elapsed = time.perf_counter() - started
        lines = []
        while not session.lines.empty():  # the others' replies in the channel show here too
            lines.append(session.lines.get_nowait())
        mine = [line.text for line in lines if line.event_id == event_id]
        if len(mine) != 1 or not mine[0].startswith(expect):
            raise RuntimeError(f"the router answered {mine!r}")
        return elapsed

    async def crowd(self, rounds: int) -> float:
        """Seconds for ``IN_FLIGHT`` people in the console asking ``rounds`` times each."""
        sessions = [self.console.open(f"asker{k}") for k in range(IN_FLIGHT)]
        try:  # open only meanwhile: a session nobody reads fills up with the channel's replies
            return await in_flight(rounds, lambda k: self.routed(sessions[k]))
        finally:
            for session in sessions:
                self.console.close(session)


async def in_flight(rounds: int, ask: Callable[[int], Awaitable[float]]) -> float:
    """Seconds for ``IN_FLIGHT`` callers (``ask(k)``) asking ``rounds`` times each in turn."""

    async def caller(k: int) -> None:
        for _ in range(rounds):
            await ask(k)

    started = time.perf_counter()
    await asyncio.gather(*(caller(k) for k in range(IN_FLIGHT)))
    return time.perf_counter() - started


async def run_engine(
    engine: Engine, aws: FakeLambda, whisk: FakeOpenWhisk, calls: int, tmp: str
) -> None:
    if engine == "lambda":
        target, secret = aws.arn("eightball"), ""
        runner = aws.functions["eightball"].runner
    else:
        target = openwhisk_target(whisk.url, f"{whisk.namespace}/eightball")
        secret = whisk.api_key
        runner = whisk.actions[f"{whisk.namespace}/eightball"].runner
    settings = bench_settings(
        database_url=f"sqlite+aiosqlite:///{tmp}/{engine}.db",
        data_dir=tmp,
        secret_keys=[SecretStr(SecretBox.generate_key())],
        lambda_endpoint_url=aws.url,
        lambda_region=REGION,
        module_timeout_seconds=10.0,
    )
    clients = FunctionClients(ServerlessSettings(lambda_region=REGION, lambda_endpoint_url=aws.url))
    client = clients.client(engine, target, secret, timeout=10.0)
    runtime = await Runtime.start(settings, {"router", CONSOLE.name})
    try:
        await client.fetch_manifest()
        await runtime.need(CATALOGUE).register_function(engine, target, secret, actor="bench")
        console = runtime.collector(CONSOLE)
        assert console is not None
        owner = console.open("owner", "owner")
        await console.send(owner, "!module install eightball yes")
        installed = owner.lines.get_nowait().text
        if not installed.startswith("Installed eightball"):
            raise RuntimeError(f"could not install eightball: {installed}")
        console.close(owner)
        one = console.open("asker")
        asker = Asker(engine, client, console)

        # warm: one call through the router shows what it sends (the direct calls send the
        # same); then the function's workers start a few at a time (16 cold starts at once
        # take longer than the deadline on 2 cores), and both ways run a while
        await asker.routed(one)
        last = aws.calls("eightball")[-1].event if engine == "lambda" else None
        asker.template = ModuleRequest.model_validate(last or whisk.calls("eightball")[-1].args)
        for width in (2, 4, 8, IN_FLIGHT, IN_FLIGHT, IN_FLIGHT):
            await asyncio.gather(*(asker.direct() for _ in range(width)))
        await asker.crowd(3)
        ways: dict[str, Callable[[], Awaitable[float]]] = {
            "direct": asker.direct,
            "routed": lambda: asker.routed(one),
            "ping": lambda: asker.routed(one, "!ping", "pong"),  # the pipeline alone
        }
        for _ in range(WARM_UP):
            for ask in ways.values():
                await ask()
        cold = runner.cold_starts

        samples: dict[str, list[float]] = {way: [] for way in ways}
        cpu = dict.fromkeys(ways, 0.0)  # this process's: bot, client and fake, not the workers
        for _ in range(calls):  # in turns, one call at a time
            for way, ask in ways.items():
                started = time.process_time()
                samples[way].append(await ask())
                cpu[way] += time.process_time() - started
        rounds = max(1, calls // IN_FLIGHT // CHUNKS)
        spent = {"direct": 0.0, "routed": 0.0}
        for _ in range(CHUNKS):  # in turns again
            spent["direct"] += await in_flight(rounds, lambda k: asker.direct())
            spent["routed"] += await asker.crowd(rounds)
        direct_rate, routed_rate = (CHUNKS * rounds * IN_FLIGHT / spent[w] for w in spent)
        cold_during = runner.cold_starts - cold
    finally:
        await client.close()
        await runtime.stop()

    (d50, d99), (r50, r99), (p50, p99) = (percentiles(samples[w]) for w in ways)
    d_cpu, r_cpu, p_cpu = (cpu[way] / calls * 1e6 for way in ways)
    print(f"\n== {engine} (embedded: SQLite, in-process ports, the fake in this process) ==")
    print(f"direct (client -> fake)  : p50 {d50:.2f} ms, p99 {d99:.2f} ms ({calls} calls)")
    print(f"through the router       : p50 {r50:.2f} ms, p99 {r99:.2f} ms ({calls} commands)")
    print(f"router overhead          : p50 {r50 - d50:+.2f} ms, p99 {r99 - d99:+.2f} ms")
    print(f"!ping through the router : p50 {p50:.2f} ms, p99 {p99:.2f} ms (no function)")
    print(
        f"CPU of this process      : direct {d_cpu:.0f} us, through the router {r_cpu:.0f} us "
        f"(overhead {r_cpu - d_cpu:+.0f} us), !ping {p_cpu:.0f} us a call"
    )
    print(
        f"{IN_FLIGHT} in flight             : direct {direct_rate:,.0f} calls/s, "
        f"through the router {routed_rate:,.0f} commands/s"
    )
    print(f"function workers         : {cold} started, {cold_during} cold starts while measuring")
    sys.stdout.flush()


async def run(args: argparse.Namespace) -> None:
    # the fake checks the shape of the SigV4 header, never the keys: these go nowhere else
    os.environ["AWS_ACCESS_KEY_ID"] = "AKIABENCHBENCH0000"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "bench-secret-access-key"
    engines: list[Engine] = [args.engine] if args.engine else ["lambda", "openwhisk"]
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, str(FIXTURES))  # packaging imports the module
        try:
            zips = {e: package("eightball:module", e, Path(tmp)).path for e in engines}
        finally:
            sys.path.remove(str(FIXTURES))
        for engine in engines:
            async with FakeLambda(region=REGION) as aws, FakeOpenWhisk() as whisk:
                if engine == "lambda":
                    aws.add_function("eightball", zips[engine])
                else:
                    whisk.add_action("eightball", zips[engine])
                await run_engine(engine, aws, whisk, args.calls, tmp)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=500, help="calls measured each way")
    parser.add_argument("--engine", choices=["lambda", "openwhisk"])
    args = parser.parse_args()
    configure_logging("WARNING", json=False)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
