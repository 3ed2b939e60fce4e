"""``/metrics`` stays the same size whatever people type: a command is counted under a name
the bot declares (``ping``), ``custom``, ``alias`` or ``unknown``, never under the word
typed, so a chat full of ``!anything`` cannot grow the series without bound."""

from __future__ import annotations

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from tests.support.harness import say, serving
from waddlebot.settings import Settings

Series = dict[tuple[str, str], float]  # (command, outcome) -> count


async def _commands(url: str) -> Series:
    async with httpx2.AsyncClient() as http:
        response = await http.get(f"{url}/metrics")
    response.raise_for_status()
    series: Series = {}
    for family in text_string_to_metric_families(response.text):
        if family.name == "waddlebot_commands":
            for sample in family.samples:
                if sample.name == "waddlebot_commands_total":
                    key = (sample.labels["command"], sample.labels["outcome"])
                    series[key] = sample.value
    return series


def _grew(before: Series, after: Series) -> Series:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


async def test_typed_words_never_become_series(settings: Settings) -> None:
    async with serving(settings) as (url, runtime):
        mod = {"user": "mia", "role": "moderator"}
        assert await say(runtime, "!addcom !hello Hello $(user)!", **mod) == ["Added !hello."]
        assert await say(runtime, "!alias hi='!hello'", **mod) == ["Added alias !hi -> !hello."]
        assert await say(runtime, "!nosuchthing") == []  # the series for unknown names
        before = await _commands(url)
        for n in range(100):
            assert await say(runtime, f"!word{n}x{id(runtime)}") == []
        assert await say(runtime, "!ping") == ["pong"]
        assert await say(runtime, "!hello", user="bob") == ["Hello bob!"]
        assert await say(runtime, "!hi", user="carol") == ["Hello carol!"]
        after = await _commands(url)
        assert set(after) - set(before) <= {("ping", "ok"), ("custom", "ok"), ("alias", "ok")}
        assert _grew(before, after) == {
            ("unknown", "unknown"): 100,
            ("ping", "ok"): 1,
            ("custom", "ok"): 1,
            ("alias", "ok"): 1,
        }
        typed = {command for command, _ in after if command.startswith(("word", "nosuch"))}
        assert typed == set()
