"""deploy/prometheus and deploy/grafana: the alert rules pass ``promtool check rules`` and
their unit tests (``promtool test rules``: every alert fires on series made for it and stays
quiet beside them); every alert says how bad it is, what happened and where the runbook is
(an anchor that exists in docs/operations.md); the Grafana dashboard is well formed, and its
queries parse. Every WaddleBot metric either names is one infra/metrics.py declares.

promtool comes from Debian's ``prometheus`` package (``make test`` installs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import Counter, Gauge, Histogram

from waddlebot.infra import metrics
from waddlebot.platforms.discord.interactions import PATH as DISCORD_WEBHOOK
from waddlebot.platforms.slack.webhook import COMMANDS_PATH, EVENTS_PATH
from waddlebot.platforms.twitch.webhook import PATH as TWITCH_WEBHOOK

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "waddlebot.json"
OPERATIONS = ROOT / "docs" / "operations.md"
SEVERITIES = {"critical", "warning", "info"}
METRIC_NAME = re.compile(r"waddlebot_[a-z_]+")
SUFFIXES: dict[type, tuple[str, ...]] = {
    Counter: ("_total", "_created"),
    Gauge: ("",),
    Histogram: ("_bucket", "_sum", "_count", "_created"),
}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    assert found, "promtool is missing: install Debian's prometheus package (make test does)"
    return subprocess.run(
        [found, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


@cache
def declared() -> frozenset[str]:
    """Every series name infra/metrics.py gives rise to."""
    names: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, Counter | Gauge | Histogram):
            names.update(value._name + suffix for suffix in SUFFIXES[type(value)])
    return frozenset(names)


def undeclared(text: str) -> set[str]:
    return set(METRIC_NAME.findall(text)) - declared()


@cache
def alerts() -> tuple[dict[str, Any], ...]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return tuple(rule for group in groups for rule in group["rules"])


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a document's headings."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_the_rules_pass_promtool_check() -> None:
    done = promtool("check", "rules", RULES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in done.stdout


def test_the_rules_pass_their_unit_tests() -> None:
    done = promtool("test", "rules", RULE_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    fired = {case["alertname"] for case in cases if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    names = {rule["alert"] for rule in alerts()}
    assert len(names) == len(alerts())
    assert names - fired == set()
    assert names - quiet == set()
    assert (fired | quiet) - names == set()


def test_every_alert_has_a_severity_a_delay_and_a_runbook_that_exists() -> None:
    documented = anchors(OPERATIONS.read_text())
    for rule in alerts():
        name = rule["alert"]
        assert re.fullmatch(r"WaddleBot[A-Z]\w+", name)
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert re.fullmatch(r"\d+m", rule["for"]), name
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], name
        page, _, anchor = notes["runbook_url"].partition("#")
        assert page == "docs/operations.md" and anchor in documented, name


def test_the_alerts_read_only_metrics_waddlebot_exports() -> None:
    assert undeclared(RULES.read_text()) == set()
    assert undeclared(RULE_TESTS.read_text()) == set()
    assert "waddlebot_twitch_tokens" in RULES.read_text()  # the name check can fail


def test_the_webhook_alert_watches_every_webhook() -> None:
    (rule,) = (rule for rule in alerts() if rule["alert"] == "WaddleBotWebhookRefusals")
    watched = re.findall(r'route=~"([^"]+)"', rule["expr"])
    assert len(watched) == 3 and len(set(watched)) == 1
    for path in (TWITCH_WEBHOOK, EVENTS_PATH, COMMANDS_PATH, DISCORD_WEBHOOK):
        assert re.fullmatch(watched[0], path), path


def test_the_dashboard_is_whole() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39
    (variable,) = dashboard["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    rows = [panel["title"] for panel in panels if panel["type"] == "row"]
    assert rows == [
        "Traffic",
        "Latency",
        "Errors",
        "AI and functions",
        "Kong and platforms",
        "Process",
    ]
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert undeclared(target["expr"]) == set(), panel["title"]


def test_the_dashboard_queries_parse(tmp_path: Path) -> None:
    """Each query, as Grafana sends it ($__rate_interval filled in), as a recording rule
    promtool checks."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    exprs = [t["expr"] for p in panels for t in p.get("targets", ())]
    rules = [
        {"record": f"dashboard:query{n}", "expr": expr.replace("$__rate_interval", "1m")}
        for n, expr in enumerate(exprs)
    ]
    checked = tmp_path / "dashboard.rules.yml"
    checked.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = promtool("check", "rules", checked)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in done.stdout
