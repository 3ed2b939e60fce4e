"""Kong's declarative configuration (DB-less), built from the app's own route table
(``web/route_table.py``), so every route the services serve is routed and none that needs a
key is exposed without one; with the API keys, a consumer and a key-auth credential each.

Each WaddleBot service behind Kong becomes up to three Kong services on the same upstream,
one per kind of caller, so each kind's plugins are set once:

- ``<service>``: routes that need a key. ``key-auth`` (the key in ``X-API-Key``, which
  WaddleBot reads too and checks again) and rate limiting per consumer.
- ``<service>-webhooks``: the platforms' signed deliveries (``POST /collectors/...``). No
  key (they sign their own requests); a high rate limit per address, as a platform sends from
  few addresses.
- ``<service>-public``: the rest that takes no key (OAuth pages, overlay pages and their
  WebSockets, the calendar feed, login, the API docs); a low rate limit per address.

Every Kong service limits request bodies to what its WaddleBot service accepts. Health and
metrics are never routed: they are for the cluster and Prometheus only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from waddlebot.core.overlay import MAX_MEDIA_BYTES
from waddlebot.features.kong.settings import DEFAULT_UPSTREAM
from waddlebot.platforms.discord.interactions import MAX_BODY as DISCORD_MAX_BODY
from waddlebot.platforms.slack.webhook import MAX_BODY as SLACK_MAX_BODY
from waddlebot.platforms.twitch.webhook import MAX_BODY as TWITCH_MAX_BODY
from waddlebot.router.api import MAX_BODY_BYTES
from waddlebot.web.route_table import Access, RouteEntry

# the services Kong routes to; the console (one per deployment, for `waddlebot chat --url`)
# and the router (no routes) are not exposed
EXPOSED = ("api", "twitch", "discord", "slack", "browser_source", "portal")
KEY_HEADER = "X-API-Key"
FORMAT_VERSION = "3.0"
CONSUMER_PREFIX = "waddlebot-"
TAG = "waddlebot"  # on every consumer and credential the broker writes
# request bodies, in KiB: the largest each service accepts, so Kong refuses early what
# WaddleBot would refuse anyway (the overlay pages take no body worth the name)
BODY_KIB = {
    "api": max(MAX_BODY_BYTES, MAX_MEDIA_BYTES) // 1024,  # an overlay media upload is larger
    "twitch": TWITCH_MAX_BODY // 1024,
    "discord": DISCORD_MAX_BODY // 1024,
    "slack": SLACK_MAX_BODY // 1024,
    "browser_source": 64,
    "portal": 64,  # its forms are small (an API key's name, a password)
}
# requests per minute, per Kong node: per consumer with a key, per client address without
RATE_PER_MINUTE = {"key": 600, "webhooks": 6000, "public": 120}
# a person at work in the portal (a search as they type) asks more often than a visitor; its
# sign-in throttles password guesses itself
PORTAL_PER_MINUTE = 600

RouteTables = Mapping[str, Sequence[RouteEntry]]  # each exposed service's routes, in order


@dataclass(frozen=True, slots=True)
class Credential:
    """A live API key as Kong knows it: its public id, kind and the key itself."""

    key_id: str
    kind: str
    key: str


def route_kind(entry: RouteEntry) -> str:
    if entry.access is Access.KEY:
        return "key"
    if entry.methods == ("POST",) and entry.path.startswith("/collectors/"):
        return "webhooks"
    return "public"


def path_pattern(entry: RouteEntry) -> str:
    """The route's path as a Kong regex path (``~`` first), matching exactly what the app's
    template matches: ``{name}`` is one segment, ``{name:path}`` the rest."""
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]*)\})?", entry.path):
        pattern += re.escape(literal).replace("\\-", "-")  # a dash needs no escape
        if name:
            pattern += ".+" if name.endswith(":path") else "[^/]+"
    return f"~{pattern}" + ("(/.*)?$" if entry.prefix else "$")


def _route_name(service: str, entry: RouteEntry) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", entry.path.lower()).strip("-") or "root"
    verb = "ws" if entry.websocket else "-".join(m.lower() for m in entry.methods)
    return f"{service.replace('_', '-')}-{verb}-{slug}"


def _kong_route(service: str, entry: RouteEntry, priority: int) -> dict[str, Any]:
    route: dict[str, Any] = {
        "name": _route_name(service, entry),
        "paths": [path_pattern(entry)],
        "methods": ["GET"] if entry.websocket else list(entry.methods),
        # where two templates match one path (/overlay/static/{name}, /overlay/{token}/{kind})
        # the app takes the route declared first: so does Kong
        "regex_priority": priority,
        "strip_path": False,
        "preserve_host": True,
    }
    if entry.websocket:
        route["protocols"] = ["http", "https"]  # the upgrade goes through as is
    return route


def _plugins(service: str, kind: str) -> list[dict[str, Any]]:
    plugins: list[dict[str, Any]] = []
    if kind == "key":
        plugins.append(
            {
                "name": "key-auth",
                "config": {
                    "key_names": [KEY_HEADER],
                    "key_in_body": False,
                    "key_in_query": False,
                    "hide_credentials": False,  # WaddleBot reads the key too, and checks it again
                },
            }
        )
    plugins.append(
        {
            "name": "rate-limiting",
            "config": {
                "minute": PORTAL_PER_MINUTE if service == "portal" else RATE_PER_MINUTE[kind],
                "limit_by": "consumer" if kind == "key" else "ip",
                "policy": "local",
            },
        }
    )
    plugins.append(
        {
            "name": "request-size-limiting",
            "config": {"allowed_payload_size": BODY_KIB[service], "size_unit": "kilobytes"},
        }
    )
    return plugins


# every process serves the docs and the OpenAPI document; only the API's are routed
_DOCS = ("/docs", "/openapi.json")


def _served_only_by(service: str, entry: RouteEntry) -> bool:
    return service == "api" or not entry.path.startswith(_DOCS)


def declarative_config(tables: RouteTables, upstream: str = DEFAULT_UPSTREAM) -> dict[str, Any]:
    """Kong's configuration for the routes of every exposed service (``tables``: each one's
    route table); ``upstream`` is each service's URL, ``{name}`` standing for its name
    (``browser_source`` as ``browser-source``: host names take no underscore)."""
    services = []
    for service in EXPOSED:
        by_kind: dict[str, list[dict[str, Any]]] = {}
        entries = tables[service]
        for order, entry in enumerate(entries):
            if entry.access is Access.INTERNAL or not _served_only_by(service, entry):
                continue
            route = _kong_route(service, entry, priority=len(entries) - order)
            by_kind.setdefault(route_kind(entry), []).append(route)
        host = service.replace("_", "-")
        for kind in ("key", "webhooks", "public"):
            if kind in by_kind:
                services.append(
                    {
                        "name": host if kind == "key" else f"{host}-{kind}",
                        "url": upstream.format(name=host),
                        "plugins": _plugins(service, kind),
                        "routes": by_kind[kind],
                    }
                )
    return {"_format_version": FORMAT_VERSION, "services": services}


def consumer_name(key_id: str) -> str:
    return f"{CONSUMER_PREFIX}{key_id}"


def with_consumers(config: Mapping[str, Any], keys: Sequence[Credential]) -> dict[str, Any]:
    """``config`` with a consumer (``waddlebot-<key_id>``) and a key-auth credential (the key
    itself, as Kong compares it) for each of ``keys``."""
    return {
        **config,
        "consumers": [
            {
                "username": consumer_name(key.key_id),
                "custom_id": key.key_id,
                "tags": [TAG, f"kind-{key.kind}"],
            }
            for key in keys
        ],
        "keyauth_credentials": [
            {"consumer": consumer_name(key.key_id), "key": key.key, "tags": [TAG]} for key in keys
        ],
    }


def render(config: Mapping[str, Any], upstream: str = DEFAULT_UPSTREAM) -> str:
    """The configuration as the YAML file ``waddlebot kong config`` writes."""
    header = (
        "# Kong's declarative configuration (DB-less), written by `waddlebot kong config"
        + ("" if upstream == DEFAULT_UPSTREAM else f" --upstream '{upstream}'")
        + "`\n# from WaddleBot's route table: do not edit by hand (docs/deployment.md#kong)\n"
    )
    return header + yaml.safe_dump(dict(config), sort_keys=False, width=100)
