"""``waddlebot kong config``: the committed Kong configurations are its output, every route the
services serve is routed to the service that serves it, and nothing that needs a key is
reachable through Kong without one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import invoke
from waddlebot.app import create_app
from waddlebot.core.overlay import MAX_MEDIA_BYTES
from waddlebot.features.kong.declarative import EXPOSED, KEY_HEADER
from waddlebot.router.api import MAX_BODY_BYTES
from waddlebot.settings import Settings
from waddlebot.web.deps import presented_key
from waddlebot.web.route_table import INTERNAL_PATHS, Access, RouteEntry, route_table

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_UPSTREAM = "http://waddlebot-{name}:8000"


@pytest.fixture(scope="module")
def kong() -> dict[str, Any]:
    result = invoke(["kong", "config"])
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


@pytest.fixture(scope="module")
def served() -> dict[str, list[RouteEntry]]:
    """Each exposed service's own routes, from the app it runs."""
    return {service: route_table(create_app(Settings(), {service})) for service in EXPOSED}


def test_the_committed_files_are_its_output() -> None:
    compose = invoke(["kong", "config"])
    assert compose.stdout == (DEPLOY / "kong" / "kong.yml").read_text(), (
        "run `waddlebot kong config > deploy/kong/kong.yml`"
    )
    k8s = invoke(["kong", "config", "--upstream", K8S_UPSTREAM])
    assert k8s.stdout == (DEPLOY / "k8s" / "base" / "kong" / "kong.yml").read_text(), (
        f"run `waddlebot kong config --upstream '{K8S_UPSTREAM}' > deploy/k8s/base/kong/kong.yml`"
    )


def test_an_upstream_without_the_name_is_a_usage_error() -> None:
    result = invoke(["kong", "config", "--upstream", "http://api:8000"])
    assert result.exit_code == 2
    assert "must contain {name}" in result.stderr


def _example_path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", template)


def _routes_matching(kong: dict[str, Any], method: str, path: str) -> list[tuple[dict, dict]]:
    """The routes Kong would pick ``path`` with: of those matching, the highest
    ``regex_priority`` (several only if Kong could pick any of them)."""
    matches = []
    for service in kong["services"]:
        for route in service["routes"]:
            if method not in route["methods"]:
                continue
            if any(re.match(p.removeprefix("~"), path) for p in route["paths"]):
                matches.append((service, route))
    top = max((route["regex_priority"] for _, route in matches), default=0)
    return [(s, r) for s, r in matches if r["regex_priority"] == top]


def _plugin_names(service: dict[str, Any]) -> set[str]:
    return {plugin["name"] for plugin in service["plugins"]}


def test_every_route_is_routed_once_to_the_service_serving_it(
    kong: dict[str, Any], served: dict[str, list[RouteEntry]]
) -> None:
    for service, entries in served.items():
        upstream = f"http://{service.replace('_', '-')}:8000"
        for entry in entries:
            if entry.access is Access.INTERNAL:
                continue
            path = _example_path(entry.path) + ("/a/b.css" if entry.prefix else "")
            for method in entry.methods or ("GET",):
                matches = _routes_matching(kong, method, path)
                if entry.path.startswith(("/docs", "/openapi.json")) and service != "api":
                    continue  # every process serves the docs: the API's are routed
                assert len(matches) == 1, f"{method} {path} ({service}): {len(matches)} routes"
                ((kong_service, _),) = matches
                assert kong_service["url"] == upstream, f"{method} {path}"


def test_no_route_that_needs_a_key_is_exposed_without_one(
    kong: dict[str, Any], served: dict[str, list[RouteEntry]]
) -> None:
    keyed = [
        (method, entry.path)
        for entries in served.values()
        for entry in entries
        if entry.access is Access.KEY
        for method in entry.methods
    ]
    assert len(keyed) > 40  # the API's admin routes: roles, labels, keys, dead letters, ...
    for method, template in keyed:
        ((service, _),) = _routes_matching(kong, method, _example_path(template))
        assert "key-auth" in _plugin_names(service), f"{method} {template}"
    # and the other way round: what Kong lets through without a key takes no key in the app
    public = {(m, e.path) for es in served.values() for e in es if e.access is Access.PUBLIC
              for m in e.methods or ("GET",)}  # fmt: skip
    for service in kong["services"]:
        if "key-auth" in _plugin_names(service):
            continue
        for route in service["routes"]:
            pattern = route["paths"][0].removeprefix("~")
            for method, template in keyed:
                assert not (
                    method in route["methods"] and re.match(pattern, _example_path(template))
                ), f"{route['name']} exposes {method} {template} without a key"
            assert any(m in route["methods"] for m, _ in public)


def test_health_and_metrics_are_not_routed(kong: dict[str, Any]) -> None:
    assert {"/healthz", "/readyz", "/metrics"} <= INTERNAL_PATHS
    for path in INTERNAL_PATHS:
        assert not _routes_matching(kong, "GET", path), path


def test_webhooks_and_overlays_take_no_key_and_the_key_is_where_waddlebot_reads_it(
    kong: dict[str, Any],
) -> None:
    for method, path in [
        ("POST", "/collectors/twitch/eventsub"),
        ("POST", "/collectors/discord/interactions"),
        ("POST", "/collectors/slack/events"),
        ("GET", "/overlay/tok/alerts"),
        ("GET", "/overlay/tok/alerts/ws"),
    ]:
        ((service, _),) = _routes_matching(kong, method, path)
        assert "key-auth" not in _plugin_names(service), path
        assert "rate-limiting" in _plugin_names(service)
    (api,) = [s for s in kong["services"] if s["name"] == "api"]
    (auth,) = [p for p in api["plugins"] if p["name"] == "key-auth"]
    assert auth["config"]["key_names"] == [KEY_HEADER]
    assert auth["config"]["hide_credentials"] is False  # WaddleBot checks the key again
    assert presented_key({KEY_HEADER.lower(): "the-key"}) == "the-key"


def test_every_kong_service_limits_rates_and_bodies(kong: dict[str, Any]) -> None:
    for service in kong["services"]:
        plugins = {p["name"]: p["config"] for p in service["plugins"]}
        assert plugins["rate-limiting"]["minute"] > 0
        size = plugins["request-size-limiting"]
        assert size["size_unit"] == "kilobytes" and size["allowed_payload_size"] > 0
    (api,) = [s for s in kong["services"] if s["name"] == "api"]
    (size,) = [p["config"] for p in api["plugins"] if p["name"] == "request-size-limiting"]
    # the larger of a batch of events and an overlay media upload
    assert size["allowed_payload_size"] * 1024 == max(MAX_BODY_BYTES, MAX_MEDIA_BYTES)
