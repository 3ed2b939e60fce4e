"""``/api/v1/labels``: a community's labels and who has them, for the portal and scripts.

Reading needs the moderator role in the community, defining labels the admin role, applying
them the moderator role; a person can never hand out a level they do not hold themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, Field

from waddlebot.features.labels.service import (
    AssignmentInfo,
    DuplicateLabel,
    LabelError,
    LabelInfo,
    UnknownLabel,
)
from waddlebot.runtime import Runtime
from waddlebot.web.access import Principal
from waddlebot.web.deps import (
    CommunityId,
    actor_of,
    community_role,
    get_principal,
    get_runtime,
    level_of,
)
from waddlebot.web.numbers import Count

router = APIRouter(prefix="/api/v1/labels/communities/{community_id}", tags=["labels"])

TargetType = Annotated[str, Path(pattern="^(user|community|item|event|memory)$")]


class LabelOut(BaseModel):
    name: str
    colour: str
    description: str
    grants_level: int | None

    @classmethod
    def of(cls, info: LabelInfo) -> LabelOut:
        return cls(
            name=info.name,
            colour=info.colour,
            description=info.description,
            grants_level=info.grants_level,
        )


class LabelIn(BaseModel):
    name: str = Field(min_length=1, max_length=32)
    colour: str = Field(default="", max_length=7)
    description: str = Field(default="", max_length=200)
    grants_level: Count | None = None


class AssignmentOut(BaseModel):
    label: LabelOut
    target_type: str
    target_id: str
    assigned_by: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, info: AssignmentInfo) -> AssignmentOut:
        return cls(
            label=LabelOut.of(info.label),
            target_type=info.target_type,
            target_id=info.target_id,
            assigned_by=info.assigned_by,
            created_at=info.created_at,
            expires_at=info.expires_at,
        )


class ApplyIn(BaseModel):
    target_type: str = Field(pattern="^(user|community|item|event|memory)$")
    target_ids: list[str] = Field(min_length=1, max_length=1000)
    expires_at: datetime | None = None


class Applied(BaseModel):
    applied: int = Field(description="targets that did not have the label before")


class Limits(BaseModel):
    per_user: int = Field(ge=0, description="labels one person may carry here")
    per_community: int = Field(ge=0, description="labels on the community itself")
    per_item: int = Field(ge=0, description="labels on one item, event or memory")
    definitions: int = Field(ge=0, description="labels the community may define")


class LimitsIn(BaseModel):
    per_user: Count | None = None
    per_community: Count | None = None
    per_item: Count | None = None
    definitions: Count | None = None


class Removed(BaseModel):
    removed_from: int


def _label_error(exc: LabelError | LookupError) -> HTTPException:
    """An unknown label or community is 404, a taken name 409, anything else 422."""
    if isinstance(exc, UnknownLabel | LookupError):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, DuplicateLabel):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


@router.get("/labels", response_model=list[LabelOut])
async def list_labels(
    community_id: CommunityId,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> list[LabelOut]:
    """The community's labels (moderator role)."""
    await community_role(runtime, principal, community_id, "moderator")
    return [LabelOut.of(label) for label in await runtime.labels.list(community_id)]


@router.post("/labels", response_model=LabelOut, status_code=status.HTTP_201_CREATED)
async def create_label(
    community_id: CommunityId,
    body: LabelIn,
    request: Request,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> LabelOut:
    """Define a label (admin role; a label granting a level needs a role above it)."""
    role = await community_role(runtime, principal, community_id, "admin")
    try:
        created = await runtime.labels.create(
            community_id,
            body.name,
            colour=body.colour,
            description=body.description,
            grants_level=body.grants_level,
            actor=actor_of(principal, request),
            actor_level=level_of(principal, role),
        )
    except (LabelError, LookupError) as exc:
        raise _label_error(exc) from exc
    return LabelOut.of(created)


@router.delete("/labels/{name}", response_model=Removed)
async def delete_label(
    community_id: CommunityId,
    name: str,
    request: Request,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> Removed:
    """Delete a label and take it off everyone (admin role)."""
    role = await community_role(runtime, principal, community_id, "admin")
    try:
        removed = await runtime.labels.delete(
            community_id, name, actor_of(principal, request), actor_level=level_of(principal, role)
        )
    except (LabelError, LookupError) as exc:
        raise _label_error(exc) from exc
    return Removed(removed_from=removed)


@router.post("/labels/{name}/targets", response_model=Applied)
async def apply_label(
    community_id: CommunityId,
    name: str,
    body: ApplyIn,
    request: Request,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> Applied:
    """Apply a label to up to 1,000 targets in one transaction: all of them, or none when
    any would go over its limit (moderator role)."""
    role = await community_role(runtime, principal, community_id, "moderator")
    try:
        applied = await runtime.labels.bulk_apply(
            community_id,
            name,
            body.target_type,
            body.target_ids,
            actor=actor_of(principal, request),
            expires_at=body.expires_at,
            actor_level=level_of(principal, role),
        )
    except (LabelError, LookupError) as exc:
        raise _label_error(exc) from exc
    return Applied(applied=applied)


@router.delete(
    "/labels/{name}/targets/{target_type}/{target_id}", status_code=status.HTTP_204_NO_CONTENT
)
async def remove_label(
    community_id: CommunityId,
    name: str,
    target_type: TargetType,
    target_id: str,
    request: Request,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Take a label off one target (moderator role)."""
    role = await community_role(runtime, principal, community_id, "moderator")
    try:
        removed = await runtime.labels.remove(
            community_id,
            name,
            target_type,
            target_id,
            actor_of(principal, request),
            actor_level=level_of(principal, role),
        )
    except (LabelError, LookupError) as exc:
        raise _label_error(exc) from exc
    if not removed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{target_id} does not have {name}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/targets/{target_type}/{target_id}", response_model=list[AssignmentOut])
async def labels_of(
    community_id: CommunityId,
    target_type: TargetType,
    target_id: str,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> list[AssignmentOut]:
    """The labels one target has here (moderator role)."""
    await community_role(runtime, principal, community_id, "moderator")
    try:
        found = await runtime.labels.labels_of(community_id, target_type, target_id)
    except (LabelError, LookupError) as exc:
        raise _label_error(exc) from exc
    return [AssignmentOut.of(assignment) for assignment in found]


@router.get("/limits", response_model=Limits)
async def get_limits(
    community_id: CommunityId,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> Limits:
    """How many labels people, the community and items may carry here (moderator role)."""
    await community_role(runtime, principal, community_id, "moderator")
    try:
        return Limits(**await runtime.labels.limits(community_id))
    except LookupError as exc:
        raise _label_error(exc) from exc


@router.patch("/limits", response_model=Limits)
async def set_limits(
    community_id: CommunityId,
    body: LimitsIn,
    request: Request,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> Limits:
    """Change some of the community's label limits (admin role)."""
    await community_role(runtime, principal, community_id, "admin")
    changes = body.model_dump(exclude_none=True)
    try:
        limits = await runtime.labels.set_limits(
            community_id, changes, actor_of(principal, request)
        )
    except (LabelError, LookupError) as exc:
        raise _label_error(exc) from exc
    return Limits(**limits)
