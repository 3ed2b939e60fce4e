"""``ctx.store`` for a module served over HTTP: the bot's store endpoint
(``/api/v1/module-store``), reached with the grant the router sent with the call
(``request.store``). The bot decides which buckets the grant opens; this side only names the
scope."""

from __future__ import annotations

from typing import Any

import httpx2
import orjson

from waddlebot.core.contract import StoreGrant
from waddlebot.sdk.store import STORE_ERRORS, Bucket, Entry, StoreUnavailable

_DETAIL_LIMIT = 300


class HttpStore:
    """A :class:`~waddlebot.sdk.store.StoreBackend` for one call: the grant's endpoint (or
    ``base_url`` + ``/api/v1/module-store`` when the module reaches the bot by another address)."""

    def __init__(self, http: httpx2.AsyncClient, grant: StoreGrant, base_url: str = "") -> None:
        self._http = http
        self._token = grant.token
        self._url = (
            base_url.rstrip("/") + "/api/v1/module-store" if base_url else grant.url.rstrip("/")
        )

    async def _post(self, op: str, bucket: Bucket, **body: Any) -> Any:
        url = f"{self._url}/{op}"
        try:
            response = await self._http.post(
                url,
                content=orjson.dumps({"scope": bucket.scope, **body}),
                headers={
                    "authorization": f"Bearer {self._token}",
                    "content-type": "application/json",
                },
            )
        except httpx2.HTTPError as exc:
            raise StoreUnavailable(f"the store at {url} cannot be reached: {exc!r}") from exc
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            payload = {}
        if response.is_success:
            return payload
        detail = payload.get("detail") if isinstance(payload, dict) else None
        text = (detail if isinstance(detail, str) else response.text)[:_DETAIL_LIMIT]
        refusal = STORE_ERRORS.get(payload.get("code", "") if isinstance(payload, dict) else "")
        if refusal is not None:
            raise refusal(text)
        raise StoreUnavailable(f"the store at {url} answered HTTP {response.status_code}: {text}")

    async def read(self, bucket: Bucket, key: str) -> Entry | None:
        answer = await self._post("get", bucket, key=key)
        return Entry(answer["value"], answer["version"]) if answer["found"] else None

    async def write(
        self, bucket: Bucket, key: str, value: Any, *, ttl: float | None, version: int | None
    ) -> int | None:
        try:
            orjson.dumps(value)
        except TypeError as exc:  # the same mistake as in-process, said the same way
            raise TypeError(f"the value of {key!r} cannot be stored as JSON: {exc}") from exc
        answer = await self._post("set", bucket, key=key, value=value, ttl=ttl, version=version)
        return answer["version"] if answer["written"] else None

    async def delete(self, bucket: Bucket, key: str) -> bool:
        return bool((await self._post("delete", bucket, key=key))["deleted"])

    async def increment(self, bucket: Bucket, key: str, by: int) -> int:
        return int((await self._post("increment", bucket, key=key, by=by))["value"])

    async def keys(self, bucket: Bucket, prefix: str) -> list[str]:
        return list((await self._post("keys", bucket, prefix=prefix))["keys"])
