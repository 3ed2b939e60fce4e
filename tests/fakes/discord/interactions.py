"""Sends interactions to a bot's HTTP interactions endpoint the way Discord does: the raw JSON
body signed with the application's Ed25519 key over ``timestamp + body``, in
``X-Signature-Ed25519`` (hex) and ``X-Signature-Timestamp`` (Unix seconds). Also sends what
Discord sends on purpose to check an endpoint (bad signatures) and what a broken client might
(unknown types, malformed bodies, missing headers). Usable on its own with any key pair."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from . import payloads
from .wire import compact_json


class Ed25519Keys:
    """An application's key pair; ``public_key`` is the hex the developer portal shows."""

    def __init__(self, private: Ed25519PrivateKey | None = None) -> None:
        self.private = private or Ed25519PrivateKey.generate()
        self.public: Ed25519PublicKey = self.private.public_key()
        self.public_key = self.public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def sign(self, message: bytes) -> str:
        return self.private.sign(message).hex()


@dataclass(frozen=True)
class InteractionResult:
    """What the endpoint answered (``status`` None: timeout or no connection)."""

    payload: dict[str, Any] | None  # the interaction, when the body was one
    body: bytes  # what was sent
    timestamp: str
    signature: str
    status: int | None
    text: str
    headers: dict[str, str]
    elapsed: float
    error: str | None = None

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Hook = Callable[[dict[str, Any]], None]
ResultHook = Callable[[InteractionResult], None]


class InteractionSender:
    def __init__(
        self,
        keys: Ed25519Keys,
        *,
        application_id: str = "",
        timeout: float = 3.0,
        clock: Callable[[], float] = time.time,
        before_send: Hook | None = None,
        after_send: ResultHook | None = None,
    ) -> None:
        """``timeout``: how long Discord waits for the endpoint (3 s). ``before_send`` sees each
        interaction before it goes out, ``after_send`` each result (the fake uses them to know
        the interaction and record an inline response)."""
        self.keys = keys
        self.application_id = application_id
        self.timeout = timeout
        self.clock = clock
        self.before_send = before_send
        self.after_send = after_send
        self.log: list[InteractionResult] = []
        self._client: httpx2.AsyncClient | None = None

    async def __aenter__(self) -> InteractionSender:
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

    async def send_raw(
        self,
        url: str,
        body: bytes,
        *,
        timestamp: str | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
        omit: tuple[str, ...] = (),
        payload: dict[str, Any] | None = None,
    ) -> InteractionResult:
        """POST ``body`` as Discord would: signed over ``timestamp + body`` unless
        ``signature`` is given; ``omit`` leaves headers out."""
        timestamp = timestamp if timestamp is not None else str(int(self.clock()))
        signature = (
            signature if signature is not None else self.keys.sign(timestamp.encode() + body)
        )
        sent = {
            "Content-Type": "application/json",
            "User-Agent": "Discord-Interactions/1.0 (+https://discord.com)",
            "X-Signature-Ed25519": signature,
            "X-Signature-Timestamp": timestamp,
            **(headers or {}),
        }
        for name in omit:
            sent.pop(name, None)
        started = time.monotonic()
        try:
            response = await self._http().post(url, content=body, headers=sent)
            result = InteractionResult(
                payload,
                body,
                timestamp,
                signature,
                response.status_code,
                response.text,
                dict(response.headers),
                time.monotonic() - started,
            )
        except httpx2.HTTPError as exc:
            result = InteractionResult(
                payload,
                body,
                timestamp,
                signature,
                None,
                "",
                {},
                time.monotonic() - started,
                repr(exc),
            )
        self.log.append(result)
        if self.after_send is not None:
            self.after_send(result)
        return result

    async def send(
        self, url: str, interaction: dict[str, Any], **options: Any
    ) -> InteractionResult:
        """A correctly signed interaction (``options`` as for ``send_raw``)."""
        if self.before_send is not None:
            self.before_send(interaction)
        return await self.send_raw(url, compact_json(interaction), payload=interaction, **options)

    # --- the usual kinds -------------------------------------------------------------------------

    async def ping(self, url: str) -> InteractionResult:
        """PING (type 1): the endpoint must answer 200 ``{"type": 1}``."""
        return await self.send(url, payloads.ping(application_id=self.application_id))

    async def command(self, url: str, name: str, **fields: Any) -> InteractionResult:
        """An application command (type 2); ``fields`` as for ``payloads.interaction``."""
        fields.setdefault("application_id", self.application_id)
        return await self.send(url, payloads.interaction(name, **fields))

    # --- what a verifying endpoint must refuse ---------------------------------------------------

    async def bad_signature(
        self, url: str, interaction: dict[str, Any] | None = None
    ) -> InteractionResult:
        """Signed with another key, as Discord's periodic checks do: expect 401."""
        body = compact_json(interaction or payloads.ping(application_id=self.application_id))
        timestamp = str(int(self.clock()))
        wrong = Ed25519Keys().sign(timestamp.encode() + body)
        return await self.send_raw(url, body, timestamp=timestamp, signature=wrong)

    async def tampered(
        self, url: str, interaction: dict[str, Any] | None = None
    ) -> InteractionResult:
        """Signed correctly, then the body changed (one byte more): expect 401."""
        body = compact_json(interaction or payloads.ping(application_id=self.application_id))
        timestamp = str(int(self.clock()))
        signature = self.keys.sign(timestamp.encode() + body)
        return await self.send_raw(url, body + b" ", timestamp=timestamp, signature=signature)

    async def unsigned(
        self, url: str, interaction: dict[str, Any] | None = None
    ) -> InteractionResult:
        """No signature headers at all: expect 401."""
        body = compact_json(interaction or payloads.ping(application_id=self.application_id))
        return await self.send_raw(url, body, omit=("X-Signature-Ed25519", "X-Signature-Timestamp"))

    async def garbage_signature(self, url: str) -> InteractionResult:
        """A signature header that is not hex at all: expect 401, never 500."""
        body = compact_json(payloads.ping(application_id=self.application_id))
        return await self.send_raw(url, body, signature="not-hex-at-all")

    async def unknown_type(self, url: str, type_: int = 99) -> InteractionResult:
        """Correctly signed, with an interaction type Discord does not define: expect 4xx."""
        interaction = payloads.ping(application_id=self.application_id)
        interaction["type"] = type_
        return await self.send_raw(url, compact_json(interaction), payload=interaction)

    async def malformed(
        self, url: str, body: bytes = b'{"type": 2, "data": {"name": '
    ) -> InteractionResult:
        """Correctly signed, but not valid JSON: expect 400."""
        return await self.send_raw(url, body)
