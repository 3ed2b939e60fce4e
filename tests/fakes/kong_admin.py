"""``FakeKongAdmin``: a DB-less Kong node's Admin API, as ``kong/api/routes/config.lua`` answers
it, on a loopback port: ``POST /config`` (the declarative configuration as a table with
``_format_version``, or as a string under ``config``; ``check_hash=1``), ``GET /config`` and
``GET /status`` (its ``configuration_hash``).

async with FakeKongAdmin() as kong:
    ...push to kong.url...
    assert kong.accepts("wbk_...")  # what Kong's key-auth would let through now

Like Kong, a configuration sent as a string is hashed as that string (MD5) and answered 304
when it is the one loaded; one sent as a table is never 304 (Kong has no hash of it before
parsing) and is hashed here as its canonical JSON. A configuration is checked for what our
mistakes would break in Kong (the format version, each entity's fields and their types,
unique names and keys, a credential's consumer) and refused as Kong refuses one: 400,
``{"message": "declarative config is invalid: ...", "name": "invalid declarative
configuration", "code": 14, "fields": {...}}``. ``busy(n, retry_after)`` makes the next ``n``
pushes answer 429 with ``Retry-After`` (the node loading the previous configuration)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.served import ServedFake

FORMAT_VERSIONS = ("1.1", "2.1", "3.0")
VERSIONS = ", ".join(FORMAT_VERSIONS)
EMPTY_HASH = "0" * 32  # what /status says before any configuration was loaded
PLUGINS = {"key-auth", "rate-limiting", "request-size-limiting"}
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
PROTOCOLS = {"http", "https", "grpc", "grpcs", "tcp", "tls", "udp", "ws", "wss"}
TOP_LEVEL = {"_format_version", "_transform", "services", "consumers", "keyauth_credentials"}
SERVICE_FIELDS = {"name", "url", "plugins", "routes", "tags"}
ROUTE_FIELDS = {
    "name",
    "paths",
    "methods",
    "regex_priority",
    "strip_path",
    "preserve_host",
    "protocols",
    "tags",
}
PLUGIN_FIELDS = {"name", "config", "enabled", "tags"}
CONSUMER_FIELDS = {"id", "username", "custom_id", "tags"}
CREDENTIAL_FIELDS = {"id", "consumer", "key", "tags", "ttl"}
_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:\d+)?(/.*)?")


def _invalid(fields: dict[str, Any], flattened: bool) -> JSONResponse:
    body: dict[str, Any] = {
        "message": f"declarative config is invalid: {json.dumps(fields, sort_keys=True)}",
        "name": "invalid declarative configuration",
        "code": 14,
        "fields": fields,
    }
    if flattened:
        body["flattened_errors"] = [{"errors": [{"message": json.dumps(fields)}]}]
    return JSONResponse(body, status_code=400)


def _unknown(entity: dict[str, Any], allowed: set[str], errors: dict[str, Any]) -> None:
    for name in entity.keys() - allowed:
        errors[name] = "unknown field"


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


class FakeKongAdmin(ServedFake):
    def __init__(self, *, token: str = "", database: bool = False) -> None:
        """``token``: the Kong-Admin-Token it requires (none when empty); ``database``: a
        DB-backed Kong, whose /config refuses every push."""
        self.token = token
        self.database = database
        self.loaded: dict[str, Any] | None = None
        self.hash = EMPTY_HASH
        self.pushes = 0  # POST /config answered, whatever the answer
        self._busy: list[float] = []

    def busy(self, times: int, retry_after: float = 1) -> None:
        self._busy.extend([retry_after] * times)

    def accepts(self, api_key: str) -> bool:
        """Whether key-auth lets a request with ``X-API-Key: api_key`` through now: a loaded
        credential has that key, and its consumer exists."""
        if self.loaded is None:
            return False
        consumers = {c.get("username") for c in self.loaded.get("consumers", [])} | {
            c.get("id") for c in self.loaded.get("consumers", [])
        }
        return any(
            credential["key"] == api_key and credential["consumer"] in consumers
            for credential in self.loaded.get("keyauth_credentials", [])
        )

    def consumers(self) -> list[str]:
        return [c["username"] for c in (self.loaded or {}).get("consumers", [])]

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/config", self._post_config, methods=["POST"]),
                Route("/config", self._get_config, methods=["GET"]),
                Route("/status", self._status, methods=["GET"]),
            ]
        )

    def _refused(self, request: Request) -> Response | None:
        if self.token and request.headers.get("Kong-Admin-Token") != self.token:
            return JSONResponse(
                {"message": "Invalid credentials. Token or User credentials required"},
                status_code=401,
            )
        if self.database:
            return JSONResponse(
                {
                    "message": "this endpoint is only available when Kong is configured to "
                    "not use a database"
                },
                status_code=400,
            )
        return None

    async def _get_config(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        return JSONResponse({"config": yaml.safe_dump(self.loaded or {"_format_version": "3.0"})})

    async def _status(self, request: Request) -> Response:
        return JSONResponse({"configuration_hash": self.hash, "server": {"connections_active": 1}})

    async def _post_config(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        self.pushes += 1
        check_hash = request.query_params.get("check_hash") == "1"
        flattened = request.query_params.get("flatten_errors") in ("1", "true", "on", "yes")
        try:
            params = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"message": "Cannot parse JSON body"}, status_code=400)
        if not isinstance(params, dict):
            return JSONResponse({"message": "expected a declarative configuration"}, 400)
        new_hash: str | None = None
        if "_format_version" in params:
            config: object = params
        elif isinstance(params.get("config"), str):
            text = params["config"]
            try:
                config = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                return _invalid(
                    {"error": f"failed parsing declarative configuration: {exc}"}, flattened
                )
            if not isinstance(config, dict):
                return _invalid({"error": "failed parsing declarative configuration"}, flattened)
            new_hash = hashlib.md5(text.encode()).hexdigest()
        else:
            return JSONResponse({"message": "expected a declarative configuration"}, 400)
        if check_hash and new_hash is not None and new_hash == self.hash:
            return Response(status_code=304)
        assert isinstance(config, dict)
        errors = self._check(config)
        if errors:
            return _invalid(errors, flattened)
        if self._busy:
            retry_after = self._busy.pop(0)
            return JSONResponse(
                {"message": "Currently loading previous configuration"},
                status_code=429,
                headers={"Retry-After": f"{retry_after:g}"},
            )
        self.loaded = config
        canonical = json.dumps(config, sort_keys=True).encode()
        self.hash = new_hash or hashlib.md5(canonical).hexdigest()
        return JSONResponse(self._entities(config), status_code=201)

    @staticmethod
    def _entities(config: dict[str, Any]) -> dict[str, Any]:
        """The answer to a load: the entities by kind (ids left out here)."""
        return {
            "services": [{"name": s["name"]} for s in config.get("services", [])],
            "routes": [
                {"name": r.get("name")} for s in config.get("services", []) for r in s["routes"]
            ],
            "consumers": [{"username": c.get("username")} for c in config.get("consumers", [])],
            "keyauth_credentials": [
                {"consumer": {"id": k["consumer"]}} for k in config.get("keyauth_credentials", [])
            ],
        }

    def _check(self, config: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        if str(config.get("_format_version")) not in FORMAT_VERSIONS:
            got = config.get("_format_version")
            errors["_format_version"] = (
                f"expected one of: {', '.join(FORMAT_VERSIONS)}; got {got!r}"
            )
        _unknown(config, TOP_LEVEL, errors)
        route_names: set[str] = set()
        services = config.get("services", [])
        for i, service in enumerate(services if isinstance(services, list) else []):
            found = self._check_service(service, route_names)
            if found:
                errors.setdefault("services", {})[str(i + 1)] = found
        names = [s.get("name") for s in services if isinstance(s, dict)]
        if len(names) != len(set(names)):
            errors.setdefault("services", {})["name"] = "uniqueness violation: 'services.name'"
        consumers = config.get("consumers", [])
        known: set[str] = set()
        for field in ("username", "custom_id", "id"):
            values = [c[field] for c in consumers if isinstance(c, dict) and field in c]
            if len(values) != len(set(values)):
                errors.setdefault("consumers", {})[field] = f"uniqueness violation: '{field}'"
            known |= set(values) if field != "custom_id" else set()
        for i, consumer in enumerate(consumers):
            found = {}
            if not isinstance(consumer, dict):
                found["@entity"] = "expected a record"
            else:
                _unknown(consumer, CONSUMER_FIELDS, found)
                if not ("username" in consumer or "custom_id" in consumer):
                    found["@entity"] = [
                        "at least one of these fields must be non-empty: 'custom_id', 'username'"
                    ]
                if "tags" in consumer and not _strings(consumer["tags"]):
                    found["tags"] = "expected a set of strings"
            if found:
                errors.setdefault("consumers", {})[str(i + 1)] = found
        credentials = config.get("keyauth_credentials", [])
        seen: set[object] = set()
        for credential in credentials:
            key = credential.get("key") if isinstance(credential, dict) else None
            if key in seen:  # Kong quotes the key it saw twice
                errors.setdefault("keyauth_credentials", {})["key"] = (
                    "uniqueness violation: 'keyauth_credentials' entity with key set to "
                    f"'{key}' already declared"
                )
            seen.add(key)
        for i, credential in enumerate(credentials):
            found = {}
            _unknown(credential, CREDENTIAL_FIELDS, found)
            if credential.get("consumer") not in known:
                found["consumer"] = (
                    f"could not find consumer with username or id {credential.get('consumer')!r}"
                )
            if not isinstance(credential.get("key"), str) or not credential["key"]:
                found["key"] = "expected a string"
            if "tags" in credential and not _strings(credential["tags"]):
                found["tags"] = "expected a set of strings"
            if found:
                errors.setdefault("keyauth_credentials", {})[str(i + 1)] = found
        return errors

    @staticmethod
    def _check_service(service: object, route_names: set[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if not isinstance(service, dict):
            return {"@entity": "expected a record"}
        _unknown(service, SERVICE_FIELDS, found)
        if not isinstance(service.get("name"), str):
            found["name"] = "required field missing"
        if not isinstance(service.get("url"), str) or not _URL.fullmatch(service["url"]):
            found["url"] = "missing host in url"
        for j, plugin in enumerate(service.get("plugins", [])):
            problems: dict[str, Any] = {}
            _unknown(plugin, PLUGIN_FIELDS, problems)
            if plugin.get("name") not in PLUGINS:
                problems["name"] = f"plugin '{plugin.get('name')}' not enabled; add it to 'plugins'"
            if not isinstance(plugin.get("config", {}), dict):
                problems["config"] = "expected a record"
            if problems:
                found.setdefault("plugins", {})[str(j + 1)] = problems
        for j, route in enumerate(service.get("routes", [])):
            problems = {}
            _unknown(route, ROUTE_FIELDS, problems)
            name = route.get("name")
            if name in route_names:
                problems["name"] = "uniqueness violation: 'routes.name'"
            route_names.add(name)
            paths = route.get("paths")
            if not _strings(paths) or not all(p.startswith(("/", "~/")) for p in paths):
                problems["paths"] = "should start with: / (fixed path) or ~/ (regex path)"
            if "methods" in route and not (
                _strings(route["methods"]) and set(route["methods"]) <= METHODS
            ):
                problems["methods"] = "invalid value"
            if "protocols" in route and not set(route["protocols"]) <= PROTOCOLS:
                problems["protocols"] = "expected one of: " + ", ".join(sorted(PROTOCOLS))
            if not isinstance(route.get("regex_priority", 0), int):
                problems["regex_priority"] = "expected an integer"
            for flag in ("strip_path", "preserve_host"):
                if not isinstance(route.get(flag, False), bool):
                    problems[flag] = "expected a boolean"
            if problems:
                found.setdefault("routes", {})[str(j + 1)] = problems
        return found
