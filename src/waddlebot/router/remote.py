"""A module reached over HTTP (``waddlebot serve module:<name>`` on the other end).

Requests are signed with the shared secret (:mod:`waddlebot.infra.webhook_signing`) and so are
the answers; an answer whose signature does not check out, or that is signed for another call,
is refused. One pooled
:class:`httpx2.AsyncClient` per module is kept for the life of the client.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Self
from urllib.parse import urlsplit

import httpx2
import orjson
from pydantic import ValidationError

from waddlebot.core.contract import ModuleRequest, ModuleResponse, StoreGrant
from waddlebot.core.errors import ConfigurationError
from waddlebot.core.manifest import Manifest
from waddlebot.infra import tracing
from waddlebot.infra.signing import SignatureError
from waddlebot.infra.webhook_signing import ID_HEADER, sign_message, signing_key, verify_message

HANDLE_PATH = "/v1/handle"
MANIFEST_PATH = "/v1/manifest"

StoreGrantFor = Callable[[str, ModuleRequest], StoreGrant | None]
"""The store grant for a call of the named module (``features/modulestore/grants.py``)."""

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_DETAIL_LIMIT = 200


class ModuleCallError(Exception):
    """A remote module could not be called, or answered something that cannot be trusted."""

    def __init__(self, module: str, reason: str) -> None:
        super().__init__(f"module {module!r}: {reason}")
        self.module = module
        self.reason = reason


class ModuleUnreachable(ModuleCallError):
    """A remote module did not answer at all (nothing listening, timeouts, only 5xx)."""


class ModuleSetupError(ModuleCallError, ConfigurationError):
    """A remote module cannot be used as configured: the bot and the module were given
    different secrets, or the URL serves another module than the one named."""


def parse_remote_spec(spec: str) -> tuple[str | None, str]:
    """``"http://host:port"`` or ``"name=http://host:port"`` -> ``(name or None, base_url)``;
    :class:`ConfigurationError` (naming ``WADDLEBOT_REMOTE_MODULES``) when it is neither."""
    text = spec.strip()
    name: str | None = None
    head, sep, rest = text.partition("=")
    where = f"WADDLEBOT_REMOTE_MODULES item {spec!r}"
    if sep and "://" not in head:
        name, text = head.strip(), rest.strip()
        if not _NAME.fullmatch(name):
            raise ConfigurationError(f"{where}: {name!r} is not a module name")
    try:
        return name, checked_url(text)
    except ValueError as exc:
        raise ConfigurationError(f"{where} {exc}") from exc


def checked_url(text: str) -> str:
    """A module's base URL, without its trailing slash; ValueError saying what is wrong."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("needs an http(s)://host[:port] URL")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    try:
        httpx2.URL(text.strip())  # the client's own parser: a host it cannot send is refused
    except httpx2.InvalidURL as exc:
        raise ValueError(f"is not a URL the bot can call ({exc})") from exc
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    return text.strip().rstrip("/")


def response_detail(response: httpx2.Response) -> str:
    """An error answer's ``detail`` (or its text), short."""
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict) and "detail" in payload:
        detail = payload["detail"]
        text = detail if isinstance(detail, str) else orjson.dumps(detail).decode()
    else:
        text = response.text
    return text[:_DETAIL_LIMIT]


class HttpModuleClient:
    """A :class:`~waddlebot.router.modules.ModuleClient` for a module served over HTTP."""

    def __init__(
        self,
        base_url: str,
        secret: bytes,
        timeout: float = 5.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        *,
        manifest: Manifest | None = None,
        verify_responses: bool = True,
        store_grants: StoreGrantFor | None = None,
    ) -> None:
        if not secret:
            raise ConfigurationError("an HTTP module client needs a non-empty secret")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        signing_key(secret)  # a whsec_ secret that is no base64 is refused here, not per call
        self._base_url = base_url.rstrip("/")
        self._secret = secret
        self._timeout = timeout
        self._verify_responses = verify_responses
        self._manifest = manifest
        self._store_grants = store_grants
        self._http = httpx2.AsyncClient(
            base_url=self._base_url,
            timeout=httpx2.Timeout(timeout),
            limits=httpx2.Limits(
                max_connections=100, max_keepalive_connections=100, keepalive_expiry=30.0
            ),
            transport=transport,
            headers={"user-agent": "waddlebot-router"},
        )

    @classmethod
    async def connect(
        cls,
        base_url: str,
        secret: bytes,
        timeout: float = 5.0,  # noqa: ASYNC109 - the client's per-call timeout, kept on it
        transport: httpx2.AsyncBaseTransport | None = None,
        *,
        expected_name: str | None = None,
        attempts: int = 5,
        backoff: float = 0.2,
        verify_responses: bool = True,
        store_grants: StoreGrantFor | None = None,
    ) -> Self:
        """Fetch the manifest (retrying a few times with a growing pause) and return a client.

        Raises :class:`ModuleCallError` naming the URL when the module cannot be reached or its
        manifest is invalid; :class:`ModuleSetupError` (a :class:`ConfigurationError` too) when
        its signature does not check out (the secrets differ) or the module is not named
        ``expected_name``.
        """
        client = cls(
            base_url,
            secret,
            timeout,
            transport,
            verify_responses=verify_responses,
            store_grants=store_grants,
        )
        try:
            await client.fetch_manifest(attempts=attempts, backoff=backoff)
            if expected_name is not None and client.name != expected_name:
                raise ModuleSetupError(
                    expected_name,
                    f"{client.base_url} serves module {client.name!r}, not {expected_name!r}; "
                    "fix the name or the URL in WADDLEBOT_REMOTE_MODULES",
                )
        except BaseException:
            await client.close()
            raise
        return client

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            raise RuntimeError(f"manifest of {self._base_url} not fetched yet; use connect()")
        return self._manifest

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def _label(self) -> str:
        return self._manifest.name if self._manifest is not None else self._base_url

    async def fetch_manifest(self, *, attempts: int = 5, backoff: float = 0.2) -> Manifest:
        """GET the manifest; transport errors and 5xx answers are retried."""
        url = f"{self._base_url}{MANIFEST_PATH}"
        last = "no attempt made"
        for attempt in range(max(1, attempts)):
            if attempt:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))
            try:
                response = await self._http.get(MANIFEST_PATH)
            except httpx2.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            if response.status_code >= 500:
                last = f"HTTP {response.status_code}: {response_detail(response)}"
                continue
            if response.status_code != 200:
                raise ModuleCallError(
                    self._label, f"GET {url} answered HTTP {response.status_code}"
                )
            self._check_manifest_signature(response, url)
            try:
                manifest = Manifest.model_validate_json(response.content)
            except ValidationError as exc:
                raise ModuleCallError(
                    self._label, f"invalid manifest from {url}: {exc.error_count()} error(s)"
                ) from exc
            self._manifest = manifest
            return manifest
        raise ModuleUnreachable(
            self._label, f"cannot reach {url} after {max(1, attempts)} attempt(s): {last}"
        )

    def _check_manifest_signature(
        self, response: httpx2.Response, url: str, answering: str | None = None
    ) -> None:
        """The very first answer: when its signature does not check out, the bot and the
        module were given different secrets (or their clocks disagree)."""
        if not self._verify_responses:
            return
        try:
            verify_message(self._secret, response.content, response.headers, answering=answering)
        except SignatureError as exc:
            raise ModuleSetupError(
                self._label,
                f"the manifest from {url} failed its signature check ({exc.reason}): "
                "WADDLEBOT_MODULE_SECRET must have the same value for the bot and the module "
                "(and their clocks must agree)",
            ) from exc

    def _check_signature(self, response: httpx2.Response, what: str, answering: str) -> None:
        if not self._verify_responses:
            return
        try:
            verify_message(self._secret, response.content, response.headers, answering=answering)
        except SignatureError as exc:
            raise ModuleCallError(
                self._label, f"{what} failed signature check ({exc.reason}); is the secret right?"
            ) from exc

    async def call(self, request: ModuleRequest) -> ModuleResponse:
        if self._store_grants is not None:  # the way to its ctx.store, for this call only
            request = request.model_copy(update={"store": self._store_grants(self.name, request)})
        body = request.model_dump_json().encode()
        response, sent = await self._post_signed(HANDLE_PATH, body)
        if not response.is_success:
            raise ModuleCallError(
                self._label, f"HTTP {response.status_code}: {response_detail(response)}"
            )
        self._check_signature(response, "response", sent)
        try:
            return ModuleResponse.model_validate_json(response.content)
        except ValidationError as exc:
            raise ModuleCallError(
                self._label, f"invalid response: {exc.error_count()} error(s)"
            ) from exc

    async def _post_signed(self, url: str, body: bytes) -> tuple[httpx2.Response, str]:
        """``body`` POSTed signed to ``url`` (a path under the base URL, or a whole URL): the
        answer, whatever its status, and the call's ``webhook-id`` it must be signed with.
        :class:`TimeoutError` past the timeout, :class:`ModuleUnreachable` when it fails."""
        signature = sign_message(self._secret, body)
        headers = {**signature, "content-type": "application/json"}
        if tracing.TRACER is not None:
            carried = tracing.current_traceparent()
            if carried is not None:
                headers["traceparent"] = carried
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._http.post(url, content=body, headers=headers)
        except httpx2.TimeoutException as exc:
            raise TimeoutError(
                f"module {self._label!r} did not answer within {self._timeout}s"
            ) from exc
        except httpx2.HTTPError as exc:
            raise ModuleUnreachable(
                self._label, f"request failed: {type(exc).__name__}: {exc}"
            ) from exc
        return response, signature[ID_HEADER]

    async def close(self) -> None:
        await self._http.aclose()
