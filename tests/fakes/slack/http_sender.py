"""Requests Slack makes to an app over HTTP (Events API and slash commands), signed with the
signing secret: ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature: v0=<hmac>``, with the
retry headers on redeliveries. Deliberately broken variants (stale, badly signed, unsigned)
come from ``tamper``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx2

from . import wire

Tamper = Literal["stale", "bad_signature", "unsigned", "no_signature", "no_timestamp"]
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
STALE_AGE = 360  # seconds: beyond the five minutes a receiver accepts


@dataclass(frozen=True)
class Delivery:
    """One request sent and what the app answered (``status`` None: no answer in time, or no
    connection)."""

    kind: str  # event, url_verification, slash_command
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None
    answer: str
    answer_headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # timeout, connection_failed, unknown_error
    event_id: str | None = None
    retry_num: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retry_reason(self) -> str:
        """What Slack would name in ``X-Slack-Retry-Reason`` when it retries after this."""
        if self.error == "timeout":
            return "http_timeout"
        if self.error is not None:
            return self.error
        return "http_error"

    @property
    def refuses_retries(self) -> bool:
        return self.answer_headers.get("x-slack-no-retry") == "1"


class SignedSender:
    def __init__(
        self,
        secret: Callable[[], str],
        clock: Callable[[], float] = time.time,
        timeout: float = 3.0,
    ) -> None:
        self.secret = secret
        self.clock = clock
        self.timeout = timeout  # Slack gives an app 3 seconds to answer
        self.log: list[Delivery] = []
        self._client: httpx2.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=self.timeout)
        return self._client

    def headers(
        self,
        body: bytes,
        content_type: str,
        *,
        tamper: Tamper | None = None,
        retry_num: int = 0,
        retry_reason: str = "",
    ) -> dict[str, str]:
        now = int(self.clock())
        timestamp = str(now - STALE_AGE if tamper == "stale" else now)
        secret = self.secret() + ("-wrong" if tamper == "bad_signature" else "")
        headers = {
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": wire.signature(secret, timestamp, body),
        }
        if tamper in ("unsigned", "no_timestamp"):
            del headers["X-Slack-Request-Timestamp"]
        if tamper in ("unsigned", "no_signature"):
            del headers["X-Slack-Signature"]
        if retry_num:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        return headers

    async def send(
        self,
        kind: str,
        url: str,
        body: bytes,
        content_type: str,
        *,
        tamper: Tamper | None = None,
        retry_num: int = 0,
        retry_reason: str = "",
        event_id: str | None = None,
    ) -> Delivery:
        headers = self.headers(
            body, content_type, tamper=tamper, retry_num=retry_num, retry_reason=retry_reason
        )
        status: int | None = None
        answer, answer_headers, error = "", {}, None
        try:
            response = await self._http().post(url, content=body, headers=headers)
        except httpx2.TimeoutException:
            error = "timeout"
        except httpx2.ConnectError:
            error = "connection_failed"
        except httpx2.HTTPError:
            error = "unknown_error"
        else:
            status, answer = response.status_code, response.text
            answer_headers = {k.lower(): v for k, v in response.headers.items()}
        result = Delivery(
            kind, url, headers, body, status, answer, answer_headers, error, event_id, retry_num
        )
        self.log.append(result)
        return result
