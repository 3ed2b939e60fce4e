"""The object store port: named blobs (bytes and a content type) under keys like
``exports/community-3/20250101T120000Z.json``. Two adapters: a directory on this machine
(:class:`LocalObjectStore`, the embedded default, under ``<data_dir>/objects``) and any
S3-compatible bucket (:class:`waddlebot.infra.objects_s3.S3ObjectStore`);
:func:`build_object_store` picks by ``WADDLEBOT_OBJECT_STORE``.

Keys are relative paths of ``/``-separated segments: no empty, ``.`` or ``..`` segment, no
backslash, no leading ``/``, so a key can never leave the store's directory or prefix.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from waddlebot.core.errors import ConfigurationError

if TYPE_CHECKING:
    from waddlebot.core.settings import CoreSettings

MAX_KEY_LENGTH = 900  # S3 allows 1024 bytes; room is left for a prefix
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+-]+)*$")
_CONTENT_TYPE_SUFFIX = ".content-type"  # the local adapter's sidecar file


class InvalidKey(ValueError):
    """A key the store refuses: it could name something outside the store."""


class ObjectNotFound(LookupError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no object {key!r} in the object store")
        self.key = key


class ObjectStoreError(Exception):
    """The store could not do what was asked (refused, unreachable); the message says why."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    data: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int


class ObjectStore(Protocol):
    @property
    def location(self) -> str:
        """Where the store is, for people (``s3://bucket/prefix``, a directory)."""
        ...

    def url_of(self, key: str) -> str:
        """The key as a URL ``waddlebot community import`` reads back (``s3://…``,
        ``file://…``)."""
        ...

    async def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> None:
        """Store ``data`` under ``key``, replacing what was there; whole or not at all."""
        ...

    async def get(self, key: str) -> StoredObject:
        """The object; :class:`ObjectNotFound` when there is none."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove the object; False when there was none."""
        ...

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        """The objects whose key starts with ``prefix``, sorted by key."""
        ...

    async def close(self) -> None: ...


def check_key(key: str) -> str:
    """``key`` if it is a safe relative key, else :class:`InvalidKey` saying why."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"an object key is 1 to {MAX_KEY_LENGTH} characters, not {key!r}")
    if "\\" in key or "\x00" in key or key.startswith("/"):
        raise InvalidKey(f"an object key is a relative path with / between parts, not {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidKey(f"an object key has no empty, '.' or '..' part: {key!r}")
    if key.endswith(_CONTENT_TYPE_SUFFIX):
        raise InvalidKey(f"an object key may not end with {_CONTENT_TYPE_SUFFIX!r}: {key!r}")
    return key


def check_content_type(content_type: str) -> str:
    if not _CONTENT_TYPE.match(content_type):
        raise ValueError(f"{content_type!r} is not a content type (type/subtype)")
    return content_type


class LocalObjectStore:
    """Objects as files under one directory; the content type in a sidecar file. A put
    writes a temporary file and renames it into place, so a reader sees the old object or
    the new one, never half of one."""

    def __init__(self, root: str | Path) -> None:
        self._root = Path(root).resolve()

    @property
    def location(self) -> str:
        return str(self._root)

    def url_of(self, key: str) -> str:
        return self._path(key).as_uri()

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*check_key(key).split("/"))

    async def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> None:
        path = self._path(key)
        check_content_type(content_type)
        await asyncio.to_thread(self._write, path, data, content_type)

    @staticmethod
    def _write(path: Path, data: bytes, content_type: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, body in (
            (path.with_name(path.name + _CONTENT_TYPE_SUFFIX), content_type.encode()),
            (path, data),
        ):
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".put-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(body)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise

    async def get(self, key: str) -> StoredObject:
        path = self._path(key)
        return await asyncio.to_thread(self._read, key, path)

    @staticmethod
    def _read(key: str, path: Path) -> StoredObject:
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        sidecar = path.with_name(path.name + _CONTENT_TYPE_SUFFIX)
        try:
            content_type = sidecar.read_text(encoding="utf-8").strip() or DEFAULT_CONTENT_TYPE
        except FileNotFoundError:
            content_type = DEFAULT_CONTENT_TYPE
        return StoredObject(key, data, content_type)

    async def delete(self, key: str) -> bool:
        path = self._path(key)

        def remove() -> bool:
            path.with_name(path.name + _CONTENT_TYPE_SUFFIX).unlink(missing_ok=True)
            try:
                path.unlink()
            except (FileNotFoundError, IsADirectoryError):
                return False
            return True

        return await asyncio.to_thread(remove)

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        folders = prefix.split("/")[:-1]  # walk only the folder the prefix names, if safe
        safe = all(part not in ("", ".", "..") and "\\" not in part for part in folders)
        base = self._root.joinpath(*folders) if safe else self._root

        def walk() -> list[ObjectInfo]:
            if not base.is_dir():
                return []
            found = []
            for path in base.rglob("*"):
                name = path.name
                if name.endswith(_CONTENT_TYPE_SUFFIX) or name.startswith(".put-"):
                    continue
                if not path.is_file():
                    continue
                key = path.relative_to(self._root).as_posix()
                if key.startswith(prefix):
                    found.append(ObjectInfo(key, path.stat().st_size))
            return sorted(found, key=lambda info: info.key)

        return await asyncio.to_thread(walk)

    async def close(self) -> None:
        return None


def build_object_store(settings: CoreSettings) -> ObjectStore:
    """The store the settings name: a directory (``local``, the default) or S3 (``s3``)."""
    kind = settings.object_store
    if kind == "s3":
        from waddlebot.infra.objects_s3 import S3ObjectStore

        if not settings.object_store_bucket:
            raise ConfigurationError(
                "is not set, and WADDLEBOT_OBJECT_STORE=s3 keeps objects in a bucket",
                setting="WADDLEBOT_OBJECT_STORE_BUCKET",
                fix="Set it to the bucket's name, or set WADDLEBOT_OBJECT_STORE=local.",
            )
        return S3ObjectStore(
            settings.object_store_bucket,
            prefix=settings.object_store_prefix,
            region=settings.object_store_region or None,
            endpoint_url=settings.object_store_endpoint_url or None,
        )
    directory = settings.object_store_dir or str(Path(settings.data_dir) / "objects")
    return LocalObjectStore(directory)
