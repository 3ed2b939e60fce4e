"""``/api/v1/overlay/communities/{community_id}/media``: the images and sounds a community's
overlay pages may use (alert sounds, alert images), for moderators and up.

An upload is the file itself as the request body (``curl --data-binary @ding.mp3``), not a
form: its type is read from its first bytes, whatever ``Content-Type`` says.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, Field

from waddlebot.core.overlay import MEDIA_ID
from waddlebot.features.overlay.media import MediaFile, MediaLibrary
from waddlebot.features.shared import OVERLAY_MEDIA
from waddlebot.infra.bodies import read_capped
from waddlebot.infra.objects import ObjectStoreError
from waddlebot.web.deps import Moderator, needs
from waddlebot.web.pages import Page, PageOf

router = APIRouter(prefix="/api/v1/overlay/communities/{community_id}", tags=["overlay"])

Library = Annotated[MediaLibrary, needs(OVERLAY_MEDIA)]
MediaId = Annotated[str, Path(pattern=MEDIA_ID, description="e.g. 3fa9c1d2e4b5a6f7.mp3")]
_BINARY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the file itself: a PNG, JPEG, GIF or WebP image, or an MP3, OGG or "
        "WAV sound",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class MediaOut(BaseModel):
    media_id: str = Field(description="what an alert names it by; its URL on the pages too")
    kind: str = Field(description="image or sound")
    content_type: str
    size: int = Field(description="bytes")

    @classmethod
    def of(cls, file: MediaFile) -> MediaOut:
        return cls(
            media_id=file.media_id, kind=file.kind, content_type=file.content_type, size=file.size
        )


def _store_away(exc: ObjectStoreError) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"the object store failed: {exc}")


@router.get("/media", response_model=Page[MediaOut])
async def list_media(caller: Moderator, media: Library, paging: PageOf) -> Page[MediaOut]:
    """The community's uploaded images and sounds, by media id (moderator role)."""
    try:
        files = await media.files(caller.community_id)
    except ObjectStoreError as exc:
        raise _store_away(exc) from exc
    return paging.page_of_all([MediaOut.of(file) for file in files])


@router.post(
    "/media",
    response_model=MediaOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_BINARY,
    responses={200: {"description": "the community has this file already", "model": MediaOut}},
)
async def upload_media(
    caller: Moderator, media: Library, request: Request, response: Response
) -> MediaOut:
    """Upload an image or a sound (the request body is the file); 201, or 200 when the
    community has the same file already (moderator role)."""
    data = await read_capped(request, media.largest)
    if data is None:
        raise media.too_large()
    try:
        file, new = await media.upload(caller.community_id, data, actor=caller.actor)
    except ObjectStoreError as exc:
        raise _store_away(exc) from exc
    if not new:
        response.status_code = status.HTTP_200_OK
    return MediaOut.of(file)


@router.delete("/media/{media_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_media(caller: Moderator, media_id: MediaId, media: Library) -> Response:
    """Delete an uploaded file; alerts naming it show without it (moderator role)."""
    try:
        await media.delete(caller.community_id, media_id, actor=caller.actor)
    except ObjectStoreError as exc:
        raise _store_away(exc) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)
