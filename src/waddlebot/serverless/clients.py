"""Where a registered serverless function runs, and the client that reaches it.

A catalogue row keeps a function's *target*: a Lambda function's ARN or name, or an OpenWhisk
action's full REST URL (``https://host/api/v1/namespaces/NS/actions/[PKG/]ACTION``, so the API
host travels with it), or an HTTP function's URL, and, sealed, what it needs besides
(OpenWhisk's ``uuid:key``, the HTTP function's shared secret)."""

from __future__ import annotations

import re
from typing import Protocol
from urllib.parse import quote, unquote, urlsplit

from waddlebot.core.contract import ModuleRequest, ModuleResponse
from waddlebot.core.errors import UserError
from waddlebot.core.manifest import Manifest
from waddlebot.router.modules import ModuleClient
from waddlebot.router.remote import StoreGrantFor
from waddlebot.serverless import Engine
from waddlebot.serverless.accounting import AccountedClient, Accounting
from waddlebot.serverless.settings import ServerlessSettings

_LAMBDA_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):\d{12}:function:[A-Za-z0-9_-]{1,64}"
    r"(:[A-Za-z0-9$_-]{1,128})?"
)
_LAMBDA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?")
_OW_PART = re.compile(r"[A-Za-z0-9_@.-][A-Za-z0-9_@. -]{0,255}")
_OW_PATH = "/api/v1/namespaces/"


class FunctionClient(Protocol):
    """A module client that can also ask its function for the manifest."""

    @property
    def name(self) -> str: ...
    @property
    def manifest(self) -> Manifest: ...
    async def fetch_manifest(self) -> Manifest: ...
    async def call(self, request: ModuleRequest) -> ModuleResponse: ...
    async def close(self) -> None: ...


def lambda_region(target: str, default: str) -> str:
    """The region of a Lambda target: its ARN's, else ``default`` ('' for AWS's own default);
    ValueError for a target that is neither an ARN nor a function name."""
    if (arn := _LAMBDA_ARN.fullmatch(target)) is not None:
        return arn.group("region")
    if _LAMBDA_NAME.fullmatch(target):
        return default
    raise ValueError(
        f"{target!r} is no Lambda function: give its ARN "
        "(arn:aws:lambda:REGION:ACCOUNT:function:NAME) or its name"
    )


def openwhisk_target(api_host: str, action: str) -> str:
    """``NAMESPACE/[PACKAGE/]ACTION`` on ``api_host`` as the action's REST URL; UserError
    saying what is wrong."""
    host = urlsplit(api_host.strip())
    if host.scheme not in ("http", "https") or not host.hostname or host.path not in ("", "/"):
        raise UserError(f"the OpenWhisk API host must be https://host[:port], not {api_host!r}")
    parts = action.strip().strip("/").split("/")
    if not 2 <= len(parts) <= 3 or not all(_OW_PART.fullmatch(p) for p in parts):
        raise UserError(f"name the action as NAMESPACE/[PACKAGE/]ACTION, not {action!r}")
    namespace, name = parts[0], "/".join(parts[1:])
    base = f"{host.scheme}://{host.netloc}"
    return f"{base}{_OW_PATH}{quote(namespace, safe='@')}/actions/{quote(name, safe='/@')}"


def openwhisk_parts(target: str) -> tuple[str, str, str]:
    """An action's REST URL as ``(api_host, namespace, action)``."""
    parts = urlsplit(target)
    path = parts.path
    if not path.startswith(_OW_PATH) or "/actions/" not in path:
        raise ValueError(f"{target!r} is no OpenWhisk action URL")
    namespace, _, action = path[len(_OW_PATH) :].partition("/actions/")
    return f"{parts.scheme}://{parts.netloc}", unquote(namespace), unquote(action)


class FunctionClients:
    """Makes the client of a registered function, and books what its calls cost."""

    def __init__(self, settings: ServerlessSettings, accounting: Accounting | None = None) -> None:
        self._settings = settings
        self._accounting = accounting

    def client(
        self,
        engine: Engine,
        target: str,
        secret: str,
        *,
        timeout: float,
        manifest: Manifest | None = None,
        store_grants: StoreGrantFor | None = None,
    ) -> FunctionClient:
        """The function's own client (ValueError for a target it cannot reach)."""
        meter = self._accounting.meter if self._accounting is not None else None
        if engine == "lambda":
            from waddlebot.serverless.lambda_client import LambdaModuleClient

            return LambdaModuleClient(
                target,
                region=lambda_region(target, self._settings.lambda_region),
                endpoint_url=self._settings.lambda_endpoint_url or None,
                timeout=timeout,
                manifest=manifest,
                meter=meter,
                store_grants=store_grants,
            )
        if engine == "openwhisk":
            from waddlebot.serverless.openwhisk_client import OpenWhiskModuleClient

            api_host, namespace, action = openwhisk_parts(target)
            if ":" not in secret:
                raise ValueError("an OpenWhisk API key is uuid:key")
            return OpenWhiskModuleClient(
                api_host,
                namespace,
                action,
                secret,
                timeout=timeout,
                insecure=self._settings.openwhisk_insecure,
                manifest=manifest,
                meter=meter,
                store_grants=store_grants,
            )
        if engine == "function":
            from waddlebot.serverless.http_function import HttpFunctionClient

            return HttpFunctionClient(
                target,
                secret.encode(),
                timeout=timeout,
                manifest=manifest,
                meter=meter,
                store_grants=store_grants,
            )
        raise ValueError(f"no serverless engine called {engine!r}")

    def accounted(self, client: ModuleClient) -> ModuleClient:
        """``client`` (the function's, behind its guard) asking the community's budget first."""
        if self._accounting is None:
            return client
        return AccountedClient(client, self._accounting)
