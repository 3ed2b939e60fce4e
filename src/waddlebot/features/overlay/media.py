"""A community's overlay media: alert sounds and images uploaded through the API, kept in the
object store under ``overlay-media/community-<id>/<media id>``.

A media id is the first 16 hex digits of the file's SHA-256 and the extension of its type
(``3fa9c1d2e4b5a6f7.mp3``), so the same file uploaded twice is one file, and what a URL
names never changes: the pages may cache it for good. The type is read from the file's first
bytes; what the uploader declares is never trusted. Limits per file (by kind) and per
community (files and bytes) come from the overlay settings. A community export carries the
files (:meth:`MediaLibrary.everything`) and an import puts them back (:meth:`MediaLibrary.restore`):
being named by their content, they keep their ids in another community, so what names them
there (an alert's ``image`` or ``sound``) still finds them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from waddlebot.core.errors import Conflict, NotFound, WaddleError
from waddlebot.core.overlay import IMAGE_TYPES, MEDIA_ID, SOUND_TYPES
from waddlebot.features.overlay.settings import OverlaySettings
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.objects import ObjectNotFound, ObjectStore

PREFIX = "overlay-media"
AUDIT_TARGET = "overlay_media"
_MEDIA_ID = re.compile(MEDIA_ID)
Kind = Literal["image", "sound"]
CONTENT_TYPES = {**IMAGE_TYPES, **SOUND_TYPES}


class TooLarge(WaddleError):
    """A file over its kind's size limit (413)."""

    status = 413
    code = "content_too_large"


class UnsupportedType(WaddleError):
    """A file that is none of the image and sound types a page can show (415)."""

    status = 415
    code = "unsupported_media_type"


class QuotaFull(Conflict):
    """The community keeps as many files, or bytes, as it may (409): delete some first."""


class MediaRefused(WaddleError):
    """Exported files that cannot be restored as they are; the message says why."""


@dataclass(frozen=True, slots=True)
class MediaFile:
    media_id: str
    kind: Kind
    content_type: str
    size: int


def sniff(data: bytes) -> str | None:
    """The extension of the file's type from its first bytes; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data.startswith(b"OggS"):
        return "ogg"
    if data.startswith(b"ID3") or _mpeg_frame(data):
        return "mp3"
    return None


def _mpeg_frame(data: bytes) -> bool:
    """Whether ``data`` starts with an MPEG audio frame header (an MP3 without ID3 tags):
    11 sync bits, a version other than 'reserved', and layer III, II or I."""
    if len(data) < 4 or data[0] != 0xFF or data[1] & 0xE0 != 0xE0:
        return False
    version, layer = (data[1] >> 3) & 3, (data[1] >> 1) & 3
    return version != 1 and layer != 0


def kind_of(extension: str) -> Kind:
    return "image" if extension in IMAGE_TYPES else "sound"


def media_file(media_id: str, size: int) -> MediaFile:
    extension = media_id.rpartition(".")[2]
    return MediaFile(media_id, kind_of(extension), CONTENT_TYPES[extension], size)


def is_media_id(media_id: str) -> bool:
    return bool(_MEDIA_ID.fullmatch(media_id))


def _size(size: int) -> str:
    """A size for people: ``5 MiB``, ``2.5 MiB``, ``12 KiB``, ``300 bytes``."""
    if size >= 1_048_576:
        return f"{size / 1_048_576:.1f}".removesuffix(".0") + " MiB"
    if size >= 1024:
        return f"{round(size / 1024)} KiB"
    return f"{size} bytes"


class MediaLibrary:
    """A community's files. Without an audit log it only reads, exports and restores (the
    command line's export and import, which record nothing)."""

    def __init__(
        self, store: ObjectStore, settings: OverlaySettings, audit: AuditLog | None = None
    ) -> None:
        self._store = store
        self._settings = settings
        self._audit = audit

    @property
    def largest(self) -> int:
        """The largest file of any kind, in bytes: a body over it is refused unread."""
        return max(self._settings.overlay_media_image_max_bytes, self.sound_max)

    @property
    def sound_max(self) -> int:
        return self._settings.overlay_media_sound_max_bytes

    def limit_of(self, kind: Kind) -> int:
        if kind == "image":
            return self._settings.overlay_media_image_max_bytes
        return self.sound_max

    def too_large(self) -> TooLarge:
        images, sounds = self.limit_of("image"), self.limit_of("sound")
        return TooLarge(
            f"that file is too large: images may be {_size(images)} at most, sounds {_size(sounds)}"
        )

    def _recorder(self) -> AuditLog:
        if self._audit is None:
            raise RuntimeError("a media library without an audit log changes nothing")
        return self._audit

    @staticmethod
    def _folder(community_id: int) -> str:
        return f"{PREFIX}/community-{community_id}/"

    def _key(self, community_id: int, media_id: str) -> str:
        return self._folder(community_id) + media_id

    async def files(self, community_id: int) -> list[MediaFile]:
        """The community's files, by media id."""
        found = await self._store.list(self._folder(community_id))
        files = []
        for info in found:
            media_id = info.key.rpartition("/")[2]
            if is_media_id(media_id):
                files.append(media_file(media_id, info.size))
        return files

    def checked(self, data: bytes) -> MediaFile:
        """The file ``data`` is, if it is an image or a sound within its kind's limit."""
        extension = sniff(data)
        if extension is None:
            raise UnsupportedType(
                "that is not an image or a sound a page can use: upload a PNG, JPEG, GIF or "
                "WebP image, or an MP3, OGG or WAV sound (the type is read from the file "
                "itself, not its name or Content-Type)"
            )
        kind = kind_of(extension)
        if len(data) > self.limit_of(kind):
            raise TooLarge(
                f"that {kind} is {_size(len(data))}: {kind}s may be "
                f"{_size(self.limit_of(kind))} at most"
            )
        return media_file(f"{hashlib.sha256(data).hexdigest()[:16]}.{extension}", len(data))

    async def upload(self, community_id: int, data: bytes, *, actor: str) -> tuple[MediaFile, bool]:
        """Keep a file; the file and whether it is new (the same file again is not)."""
        audit = self._recorder()
        uploaded = self.checked(data)
        media_id = uploaded.media_id
        kept = await self.files(community_id)
        if any(file.media_id == media_id for file in kept):
            return uploaded, False
        self._check_quota(community_id, kept, len(data))
        await self._store.put(self._key(community_id, media_id), data, uploaded.content_type)
        audit.change(
            "overlay.media.upload",
            actor,
            f"{AUDIT_TARGET}:{media_id}",
            community_id,
            {"size": len(data), "content_type": uploaded.content_type},
        )
        return uploaded, True

    def _check_quota(self, community_id: int, kept: list[MediaFile], size: int) -> None:
        most_files = self._settings.overlay_media_max_files
        most_bytes = self._settings.overlay_media_quota_bytes
        used = sum(file.size for file in kept)
        delete = (
            f"delete one you no longer use first (DELETE /api/v1/overlay/communities/"
            f"{community_id}/media/<media_id>; GET .../media lists them)"
        )
        if len(kept) >= most_files:
            raise QuotaFull(f"this community keeps {len(kept)} files, the most it may: {delete}")
        if used + size > most_bytes:
            raise QuotaFull(
                f"this community keeps {_size(used)} of files and may keep "
                f"{_size(most_bytes)}, so this one ({_size(size)}) does not fit: "
                f"{delete}"
            )

    async def everything(self, community_id: int) -> list[tuple[MediaFile, bytes]]:
        """Every file of the community with its bytes, by media id (for an export)."""
        return [
            await self.get(community_id, file.media_id) for file in await self.files(community_id)
        ]

    async def restore(
        self, community_id: int, files: Sequence[tuple[str, bytes]], *, check_only: bool = False
    ) -> list[MediaFile]:
        """Put exported files (media id, bytes) back into the community: each checked as an
        upload is and against the id it was exported under, and all of them within the
        community's quota together with what it keeps, or none. ``check_only``: check, put
        nothing. The files that were not kept already."""
        kept = {file.media_id: file for file in await self.files(community_id)}
        adding: dict[str, tuple[MediaFile, bytes]] = {}
        for media_id, data in files:
            try:
                file = self.checked(data)
            except (TooLarge, UnsupportedType) as exc:
                raise MediaRefused(f"the file {media_id!r}: {exc}") from exc
            if file.media_id != media_id:
                raise MediaRefused(f"the file {media_id!r} is not the file that id names")
            if media_id not in kept:
                adding[media_id] = (file, data)
        count = len(kept) + len(adding)
        used = sum(file.size for file in kept.values())
        size = sum(file.size for file, _ in adding.values())
        most_files = self._settings.overlay_media_max_files
        most_bytes = self._settings.overlay_media_quota_bytes
        if count > most_files or used + size > most_bytes:
            raise MediaRefused(
                f"{len(adding)} files ({_size(size)}) do not fit beside the {len(kept)} "
                f"({_size(used)}) community {community_id} keeps: a community may keep "
                f"{most_files} files and {_size(most_bytes)} "
                "(WADDLEBOT_OVERLAY_MEDIA_MAX_FILES, WADDLEBOT_OVERLAY_MEDIA_QUOTA_BYTES)"
            )
        if not check_only:
            for file, data in adding.values():
                await self._store.put(
                    self._key(community_id, file.media_id), data, file.content_type
                )
        return [file for file, _ in adding.values()]

    async def get(self, community_id: int, media_id: str) -> tuple[MediaFile, bytes]:
        """The file and its bytes; :class:`NotFound` when the community has no such file."""
        if not is_media_id(media_id):
            raise NotFound(f"there is no file {media_id!r} here")
        try:
            stored = await self._store.get(self._key(community_id, media_id))
        except ObjectNotFound:
            raise NotFound(f"there is no file {media_id!r} here") from None
        return media_file(media_id, len(stored.data)), stored.data

    async def delete(self, community_id: int, media_id: str, *, actor: str) -> None:
        audit = self._recorder()
        if not is_media_id(media_id) or not await self._store.delete(
            self._key(community_id, media_id)
        ):
            raise NotFound(f"there is no file {media_id!r} here")
        audit.change("overlay.media.delete", actor, f"{AUDIT_TARGET}:{media_id}", community_id)

    async def close(self) -> None:
        """Close the object store (a library the command line made for itself)."""
        await self._store.close()
