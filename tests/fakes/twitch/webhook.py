"""Sends EventSub webhook requests the way Twitch does: signed, with the ``Twitch-Eventsub-*``
headers, retried with the same message id when the callback fails. Usable on its own to test a
webhook receiver, including with deliberately bad requests (stale, badly signed, malformed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2

from .wire import compact_json, new_token, new_uuid, rfc3339_ns, signature

TEN_MINUTES_NS = 600 * 1_000_000_000


@dataclass(frozen=True)
class WebhookMessage:
    """One logical message; redeliveries reuse it with a higher ``retry``."""

    message_type: str  # notification | webhook_callback_verification | revocation
    subscription_type: str
    subscription_version: str
    body: bytes
    message_id: str = field(default_factory=new_uuid)
    retry: int = 0


@dataclass(frozen=True)
class WebhookResult:
    """What the callback answered to one request (``status`` None: timeout or no connection)."""

    message: WebhookMessage
    timestamp: str
    headers: dict[str, str]
    status: int | None
    body: str
    error: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def notification(subscription: dict[str, Any], event: dict[str, Any]) -> WebhookMessage:
    return WebhookMessage(
        "notification",
        subscription["type"],
        subscription["version"],
        compact_json({"subscription": subscription, "event": event}),
    )


def challenge(subscription: dict[str, Any], text: str | None = None) -> tuple[WebhookMessage, str]:
    text = text or new_token()
    body = compact_json({"challenge": text, "subscription": subscription})
    message = WebhookMessage(
        "webhook_callback_verification", subscription["type"], subscription["version"], body
    )
    return message, text


def revocation(subscription: dict[str, Any]) -> WebhookMessage:
    return WebhookMessage(
        "revocation",
        subscription["type"],
        subscription["version"],
        compact_json({"subscription": subscription}),
    )


class WebhookSender:
    def __init__(
        self,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 1.0,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.timeout = timeout  # Twitch wants an answer within "a few seconds"
        self.retries = retries
        self.backoff = backoff
        self.now_ns = now_ns
        self.log: list[WebhookResult] = []  # every request sent, in order
        self._client: httpx2.AsyncClient | None = None

    async def __aenter__(self) -> WebhookSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=self.timeout)
        return self._client

    async def send(
        self,
        callback: str,
        secret: str,
        message: WebhookMessage,
        *,
        timestamp: str | None = None,
        signature_override: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> WebhookResult:
        """One request, no retries; ``extra_headers`` as a proxy on the way would add them
        (a ``traceparent``)."""
        timestamp = timestamp or rfc3339_ns(self.now_ns())
        headers = {
            "Twitch-Eventsub-Message-Id": message.message_id,
            "Twitch-Eventsub-Message-Retry": str(message.retry),
            "Twitch-Eventsub-Message-Type": message.message_type,
            "Twitch-Eventsub-Message-Signature": signature_override
            or signature(secret, message.message_id, timestamp, message.body),
            "Twitch-Eventsub-Message-Timestamp": timestamp,
            "Twitch-Eventsub-Subscription-Type": message.subscription_type,
            "Twitch-Eventsub-Subscription-Version": message.subscription_version,
            "Content-Type": "application/json",
            **(extra_headers or {}),
        }
        try:
            response = await self._http().post(callback, content=message.body, headers=headers)
            result = WebhookResult(
                message,
                timestamp,
                headers,
                response.status_code,
                response.text,
                response_headers={k.lower(): v for k, v in response.headers.items()},
            )
        except httpx2.HTTPError as exc:
            result = WebhookResult(message, timestamp, headers, None, "", error=repr(exc))
        self.log.append(result)
        return result

    async def deliver(
        self, callback: str, secret: str, message: WebhookMessage
    ) -> list[WebhookResult]:
        """Send until the callback answers 2xx, retrying with the same message id (and a
        growing ``Twitch-Eventsub-Message-Retry``) after a failure or timeout."""
        results = [await self.send(callback, secret, message)]
        while not results[-1].ok and results[-1].message.retry < self.retries:
            await asyncio.sleep(self.backoff * 2 ** results[-1].message.retry)
            results.append(await self.redeliver(callback, secret, results[-1]))
        return results

    # --- deliberate variations for receiver tests ------------------------------------------

    async def redeliver(self, callback: str, secret: str, previous: WebhookResult) -> WebhookResult:
        """The same message again: same id and body, retry count + 1, a fresh timestamp."""
        again = replace(previous.message, retry=previous.message.retry + 1)
        return await self.send(callback, secret, again)

    async def send_stale(
        self, callback: str, secret: str, message: WebhookMessage, age_ns: int = TEN_MINUTES_NS + 1
    ) -> WebhookResult:
        """Correctly signed, but with a timestamp more than 10 minutes old."""
        return await self.send(
            callback, secret, message, timestamp=rfc3339_ns(self.now_ns() - age_ns)
        )

    async def send_bad_signature(
        self, callback: str, secret: str, message: WebhookMessage
    ) -> WebhookResult:
        """Signed with the wrong secret, so the receiver must refuse it."""
        wrong = signature(secret + "-wrong", message.message_id, "x", message.body)
        return await self.send(callback, secret, message, signature_override=wrong)

    async def send_malformed(
        self,
        callback: str,
        secret: str,
        subscription: dict[str, Any],
        body: bytes = b'{"subscription": {"id": ',
    ) -> WebhookResult:
        """A correctly signed notification whose body is not valid JSON."""
        message = WebhookMessage(
            "notification", subscription["type"], subscription["version"], body
        )
        return await self.send(callback, secret, message)
