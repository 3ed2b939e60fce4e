"""The object store on S3 or anything speaking its protocol (MinIO, Ceph, LocalStack), through
aiobotocore. Objects live under ``<prefix>/<key>`` in one bucket; the bucket must exist.
Credentials come from the usual AWS chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, an instance or pod role); nothing here reads or logs them. One client is
opened on first use and kept until :meth:`S3ObjectStore.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from waddlebot.core.errors import ConfigurationError, ServiceUnavailable
from waddlebot.infra.objects import (
    DEFAULT_CONTENT_TYPE,
    ObjectInfo,
    ObjectNotFound,
    ObjectStoreError,
    StoredObject,
    check_content_type,
    check_key,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


class S3ObjectStore:
    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        region: str | None = None,
        endpoint_url: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not bucket.strip():
            raise ConfigurationError("an S3 object store needs a bucket name")
        self._bucket = bucket.strip()
        self._prefix = "/".join(part for part in prefix.split("/") if part)
        self._region = region
        self._endpoint_url = endpoint_url
        self._timeout = timeout
        self._client: S3Client | None = None
        self._exits = contextlib.AsyncExitStack()
        self._opening = asyncio.Lock()

    @property
    def location(self) -> str:
        where = f"s3://{self._bucket}/{self._prefix}".rstrip("/")
        return f"{where} at {self._endpoint_url}" if self._endpoint_url else where

    def url_of(self, key: str) -> str:
        return f"s3://{self._bucket}/{self._name(key)}"

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self._prefix}/{key}" if self._prefix else key

    async def _s3(self) -> S3Client:
        async with self._opening:
            if self._client is None:
                config = AioConfig(
                    connect_timeout=self._timeout,
                    read_timeout=self._timeout,
                    retries={"mode": "standard", "max_attempts": 3},
                )
                self._client = await self._exits.enter_async_context(
                    get_session().create_client(
                        "s3",
                        region_name=self._region,
                        endpoint_url=self._endpoint_url,
                        config=config,
                    )
                )
            client: S3Client = self._client
            return client

    async def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> None:
        name = self._name(key)
        check_content_type(content_type)
        with self._failures(f"put {key!r}"):
            client = await self._s3()
            await client.put_object(
                Bucket=self._bucket, Key=name, Body=data, ContentType=content_type
            )

    async def get(self, key: str) -> StoredObject:
        name = self._name(key)
        with self._failures(f"get {key!r}", missing=key):
            client = await self._s3()
            answer = await client.get_object(Bucket=self._bucket, Key=name)
            async with answer["Body"] as body:
                data = await body.read()
        return StoredObject(key, data, answer.get("ContentType") or DEFAULT_CONTENT_TYPE)

    async def delete(self, key: str) -> bool:
        name = self._name(key)
        with self._failures(f"delete {key!r}"):
            client = await self._s3()
            try:  # S3 answers a delete of nothing with success: ask first
                await client.head_object(Bucket=self._bucket, Key=name)
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return False
                raise
            await client.delete_object(Bucket=self._bucket, Key=name)
        return True

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        full = f"{self._prefix}/{prefix}" if self._prefix else prefix
        skip = len(self._prefix) + 1 if self._prefix else 0
        found: list[ObjectInfo] = []
        with self._failures(f"list {prefix!r}"):
            client = await self._s3()
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=full
            )
            async for page in pages:
                for item in page.get("Contents", []):
                    found.append(ObjectInfo(item["Key"][skip:], int(item.get("Size", 0))))
        return sorted(found, key=lambda info: info.key)

    @contextlib.contextmanager
    def _failures(self, what: str, missing: str | None = None) -> Iterator[None]:
        """botocore's errors as the port's: a missing key, a setting, or the store refusing."""
        try:
            yield
        except ClientError as exc:
            code = _code(exc)
            if missing is not None and code in _MISSING:
                raise ObjectNotFound(missing) from exc
            if code == "NoSuchBucket":
                raise ConfigurationError(
                    f"bucket {self._bucket!r} does not exist ({self.location})",
                    setting="WADDLEBOT_OBJECT_STORE_BUCKET",
                    fix="Create the bucket, or name one that exists.",
                ) from exc
            message = str(exc.response.get("Error", {}).get("Message", "") or code)
            raise ObjectStoreError(f"S3 refused to {what} in {self.location}: {message}") from exc
        except (NoCredentialsError, NoRegionError) as exc:
            raise ConfigurationError(
                f"the S3 object store is not configured: {exc}",
                setting="WADDLEBOT_OBJECT_STORE_REGION",
                fix="Set AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile "
                "or a role) and a region.",
            ) from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            raise ServiceUnavailable(
                f"the object store at {self.location} does not answer ({type(exc).__name__})",
                setting="WADDLEBOT_OBJECT_STORE_ENDPOINT_URL",
                fix="Check that the S3 service runs and the URL is right, then try again.",
            ) from exc
        except BotoCoreError as exc:
            raise ObjectStoreError(
                f"could not {what} in {self.location}: {type(exc).__name__}: {exc}"
            ) from exc

    async def close(self) -> None:
        async with self._opening:
            self._client = None
            await self._exits.aclose()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "") or "Unknown")
