"""A ``#`` module behind one HTTPS endpoint: an OpenWhisk web action, a Knative or OpenFaaS
function, a Cloud Run service, a Lambda function URL, any container.

The module HTTP client's exchange (:class:`~waddlebot.router.remote.HttpModuleClient`), with
one URL instead of two paths: every call is a POST of the ModuleRequest JSON to exactly that
URL, signed with the shared secret, and the manifest is asked for by a signed POST of
:data:`~waddlebot.serverless.MANIFEST_REQUEST` to it. Every answer must be signed with the same
secret and with the id of the call it answers. A throttled call (429, as Lambda function URLs
and Cloud Run answer when no instance is free) is retried with growing pauses within the call's
deadline. Nothing reports what such a platform bills, so the meter is told the call's wall time.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import httpx2
import orjson

from waddlebot.core.contract import ModuleRequest, ModuleResponse
from waddlebot.core.errors import ConfigurationError
from waddlebot.core.manifest import Manifest
from waddlebot.router.remote import (
    HttpModuleClient,
    ModuleCallError,
    ModuleSetupError,
    ModuleUnreachable,
    StoreGrantFor,
    checked_url,
    response_detail,
)
from waddlebot.serverless import MANIFEST_REQUEST, Meter
from waddlebot.serverless.calls import Backoff, Metering, manifest, module_response, request_payload

_THROTTLED = 429


def function_url(text: str) -> str:
    """A function's endpoint as given (any path, the trailing slash kept: it is the exact URL
    called); ValueError saying what is wrong. No query, fragment or user info: the URL is shown
    in the catalogue and the audit log, so it must carry no credentials; the signature is what
    authenticates a call."""
    checked_url(text)  # scheme, host, port; no query or fragment
    url = text.strip()
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password")
    return url


class HttpFunctionClient(HttpModuleClient):
    """A :class:`~waddlebot.router.modules.ModuleClient` for a module served as a signed HTTP
    function (``waddlebot module package NAME --target lambda-url|openwhisk-web``, or
    :func:`waddlebot.sdk.functions.http_function_app` in a container)."""

    def __init__(
        self,
        url: str,
        secret: bytes,
        timeout: float = 10.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        *,
        manifest: Manifest | None = None,
        meter: Meter | None = None,
        store_grants: StoreGrantFor | None = None,
        verify_responses: bool = True,
        backoff: Backoff | None = None,
    ) -> None:
        """``url``: the function's endpoint, called as it is. ``timeout``: each call's whole
        deadline, retries of a throttled call included. ConfigurationError (a ValueError) for
        a URL that cannot be called or an empty secret."""
        try:
            self._url = function_url(url)
        except ValueError as exc:
            raise ConfigurationError(f"function URL {url!r} {exc}") from exc
        super().__init__(
            self._url,
            secret,
            timeout,
            transport,
            manifest=manifest,
            verify_responses=verify_responses,
            store_grants=store_grants,
        )
        self._meter = meter
        self._backoff = backoff or Backoff()

    @property
    def url(self) -> str:
        return self._url

    async def fetch_manifest(self, *, attempts: int = 2, backoff: float = 0.2) -> Manifest:
        """POST :data:`MANIFEST_REQUEST` signed and keep the manifest answered; transport errors
        and 5xx answers (a function still starting) are retried."""
        body = orjson.dumps(MANIFEST_REQUEST)
        last = "no attempt made"
        for attempt in range(max(1, attempts)):
            if attempt:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))
            try:
                response, sent = await self._post_signed(self._url, body)
            except ModuleUnreachable as exc:
                last = exc.reason
                continue
            if response.status_code >= 500:
                last = f"HTTP {response.status_code}: {response_detail(response)}"
                continue
            if response.status_code == 401:
                raise ModuleSetupError(
                    self._label,
                    f"{self._url} refused the manifest request ({response_detail(response)}): "
                    "the function's WADDLEBOT_MODULE_SECRET must be the secret it is "
                    "registered with (and the clocks must agree)",
                )
            if response.status_code != 200:
                raise ModuleCallError(
                    self._label,
                    f"{self._url} answered the manifest request with HTTP "
                    f"{response.status_code}: {response_detail(response)}",
                )
            self._check_manifest_signature(response, self._url, answering=sent)
            self._manifest = manifest(self._label, response.content)
            return self._manifest
        raise ModuleUnreachable(
            self._label, f"cannot reach {self._url} after {max(1, attempts)} attempt(s): {last}"
        )

    async def call(self, request: ModuleRequest) -> ModuleResponse:
        metering = Metering(self._meter, self._label, request.community_id, "function")
        started = time.perf_counter()
        try:
            payload = request_payload(self._label, request, self._store_grants)
            response = module_response(self._label, await self._answer(payload))
            metering.ok = True
            return response
        finally:
            metering.billed_ms = (time.perf_counter() - started) * 1000
            metering.report()

    async def _answer(self, payload: bytes) -> bytes:
        """The signed answer's body; a throttled call is signed anew and retried."""
        try:
            async with asyncio.timeout(self._timeout) as deadline:
                attempt = 0
                while True:
                    response, sent = await self._post_signed(self._url, payload)
                    if response.status_code != _THROTTLED:
                        break
                    if not await self._backoff.wait(attempt, deadline.when()):
                        raise ModuleCallError(
                            self._label,
                            f"the function was throttled {attempt + 1} time(s) (HTTP 429); "
                            f"gave up within the {self._timeout}s deadline",
                        )
                    attempt += 1
        except TimeoutError as exc:
            raise TimeoutError(
                f"module {self._label!r}: {self._url} did not answer within {self._timeout}s"
            ) from exc
        if not response.is_success:
            raise ModuleCallError(
                self._label, f"HTTP {response.status_code}: {response_detail(response)}"
            )
        self._check_signature(response, "response", sent)
        return response.content
