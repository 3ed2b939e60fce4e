"""A ``#`` module on AWS Lambda: each call is a synchronous ``Invoke`` (RequestResponse, the
log tail asked for so the REPORT line's Billed Duration reaches the meter).

The deadline is ours: botocore's own retries are off, a throttled call (429
TooManyRequestsException) is retried here with growing pauses until the call's timeout, and
everything runs under one ``asyncio.timeout``. One aiobotocore client is kept for the life of
the object. Credentials come from the arguments or, when none are given, from the usual AWS
chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, profiles, instance roles).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
from typing import TYPE_CHECKING

import orjson
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from waddlebot.core.errors import ConfigurationError
from waddlebot.core.manifest import Manifest
from waddlebot.router.remote import (
    ModuleCallError,
    ModuleSetupError,
    ModuleUnreachable,
    StoreGrantFor,
)
from waddlebot.serverless import Meter
from waddlebot.serverless.calls import (
    Backoff,
    FunctionModuleClient,
    Metering,
    short,
)

if TYPE_CHECKING:
    from types_aiobotocore_lambda import LambdaClient

_BILLED = re.compile(r"Billed Duration: (\d+(?:\.\d+)?) ms")
_THROTTLED = frozenset({"TooManyRequestsException", "ThrottlingException"})
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:lambda:([a-z0-9-]+):")


def billed_ms(log_result: str | None) -> float:
    """The Billed Duration of the REPORT line in Lambda's base64 log tail; 0 when absent."""
    if not log_result:
        return 0.0
    try:
        text = base64.b64decode(log_result).decode("utf-8", "replace")
    except ValueError:
        return 0.0
    found = _BILLED.search(text)
    return float(found.group(1)) if found else 0.0


def function_error(kind: str, body: bytes) -> str:
    """``function error: <errorType>: <errorMessage>``, short, from Lambda's error payload."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict) and ("errorType" in payload or "errorMessage" in payload):
        error_type = str(payload.get("errorType") or kind)
        return f"function error: {error_type}: {short(str(payload.get('errorMessage', '')))}"
    return f"function error: {kind}"


class LambdaModuleClient(FunctionModuleClient):
    """A :class:`~waddlebot.router.modules.ModuleClient` for a module deployed as a Lambda
    function (``waddlebot module package NAME --target lambda``)."""

    engine = "lambda"

    def __init__(
        self,
        function: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        timeout: float = 10.0,
        manifest: Manifest | None = None,
        meter: Meter | None = None,
        store_grants: StoreGrantFor | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        """``function``: a name, a partial or a full ARN (its region is used when ``region``
        is not given; else the AWS chain's). ``timeout``: each call's whole deadline, retries
        of a throttled call included."""
        if not function.strip():
            raise ConfigurationError("a Lambda module client needs a function name or ARN")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if (access_key_id is None) != (secret_access_key is None):
            raise ConfigurationError(
                "give both the AWS access key id and the secret access key, or neither "
                "(to use the AWS credential chain)"
            )
        arn_region = _ARN_REGION.match(function)
        self._function = function.strip()
        self._region = region or (arn_region.group(1) if arn_region else None)
        self._endpoint_url = endpoint_url
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._session_token = session_token
        self._timeout = timeout
        super().__init__(manifest, meter, store_grants)
        self._backoff = backoff or Backoff()
        self._client: LambdaClient | None = None
        self._exits = contextlib.AsyncExitStack()
        self._opening = asyncio.Lock()

    @property
    def function(self) -> str:
        return self._function

    @property
    def _where(self) -> str:
        return f"Lambda function {self._function}"

    async def _lambda(self) -> LambdaClient:
        async with self._opening:
            if self._client is None:
                config = AioConfig(
                    retries={"total_max_attempts": 1, "mode": "standard"},  # no retry of its own
                    connect_timeout=self._timeout,
                    read_timeout=self._timeout + 1,  # our deadline fires first
                    # botocore's default pool (10) would queue calls the guard's cap allows
                    max_pool_connections=100,
                )
                self._client = await self._exits.enter_async_context(
                    get_session().create_client(
                        "lambda",
                        region_name=self._region,
                        endpoint_url=self._endpoint_url,
                        aws_access_key_id=self._access_key_id,
                        aws_secret_access_key=self._secret_access_key,
                        aws_session_token=self._session_token,
                        config=config,
                    )
                )
            client: LambdaClient = self._client
            return client

    async def _invoke(self, payload: bytes, metering: Metering) -> bytes:
        """The function's result, throttled tries retried; a function error and everything
        else raised as this module's error types."""
        try:
            async with asyncio.timeout(self._timeout) as deadline:
                client = await self._lambda()
                attempt = 0
                while True:
                    try:
                        answer = await client.invoke(
                            FunctionName=self._function,
                            InvocationType="RequestResponse",
                            LogType="Tail",
                            Payload=payload,
                        )
                        result = await answer["Payload"].read()
                    except ClientError as exc:
                        if _error_code(exc) not in _THROTTLED:
                            raise self._refused(exc) from exc
                        if not await self._backoff.wait(attempt, deadline.when()):
                            raise ModuleCallError(
                                self._label,
                                f"Lambda throttled the call {attempt + 1} time(s) "
                                f"({_error_code(exc)}); gave up within the {self._timeout}s "
                                "deadline",
                            ) from exc
                        attempt += 1
                        continue
                    metering.billed_ms = billed_ms(answer.get("LogResult"))
                    kind = answer.get("FunctionError") or ""
                    if kind:
                        raise ModuleCallError(self._label, function_error(kind, result))
                    return result
        except (TimeoutError, ReadTimeoutError) as exc:
            raise TimeoutError(
                f"module {self._label!r}: Lambda function {self._function} did not answer "
                f"within {self._timeout}s"
            ) from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            raise ModuleUnreachable(
                self._label, f"cannot reach Lambda: {type(exc).__name__}: {short(str(exc))}"
            ) from exc
        except (NoCredentialsError, NoRegionError) as exc:
            raise ModuleSetupError(self._label, f"Lambda client not configured: {exc}") from exc
        except (ParamValidationError, BotoCoreError) as exc:
            raise ModuleCallError(
                self._label, f"Lambda call failed: {type(exc).__name__}: {short(str(exc))}"
            ) from exc

    def _refused(self, exc: ClientError) -> ModuleCallError:
        code = _error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        message = str(exc.response.get("Error", {}).get("Message", "") or "")
        reason = f"Lambda refused the call: {code} (HTTP {status})"
        return ModuleCallError(self._label, f"{reason}: {short(message)}" if message else reason)

    async def close(self) -> None:
        async with self._opening:
            self._client = None
            await self._exits.aclose()


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "") or "Unknown")
