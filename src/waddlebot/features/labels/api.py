"""``/api/v1/labels``: a community's labels and who has them, for the portal and scripts.

Reading needs the moderator role in the community, defining labels the admin role, applying
them the moderator role; a person can never hand out a level they do not hold themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field

from waddlebot.core.errors import NotFound
from waddlebot.features.labels.service import AssignmentInfo, LabelService
from waddlebot.features.shared import LABELS
from waddlebot.web.deps import Admin, Moderator, needs
from waddlebot.web.numbers import Count
from waddlebot.web.pages import Page, PageOf
from waddlebot.web.records import FromRecord

router = APIRouter(prefix="/api/v1/labels/communities/{community_id}", tags=["labels"])

TargetType = Annotated[str, Path(pattern="^(user|community|item|event|memory)$")]


class LabelOut(FromRecord):
    name: str
    colour: str
    description: str
    grants_level: int | None


class LabelIn(BaseModel):
    name: str = Field(min_length=1, max_length=32)
    colour: str = Field(default="", max_length=7)
    description: str = Field(default="", max_length=200)
    grants_level: Count | None = None


class AssignmentOut(FromRecord):
    label: LabelOut
    target_type: str
    target_id: str
    assigned_by: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, info: AssignmentInfo) -> AssignmentOut:
        return cls.from_record(info, label=LabelOut.from_record(info.label))


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


Labels = Annotated[LabelService, needs(LABELS)]


@router.get("/labels", response_model=Page[LabelOut])
async def list_labels(caller: Moderator, labels: Labels, paging: PageOf) -> Page[LabelOut]:
    """The community's labels (moderator role)."""
    found = await labels.list(caller.community_id)
    return paging.page_of_all([LabelOut.from_record(label) for label in found])


@router.post("/labels", response_model=LabelOut, status_code=status.HTTP_201_CREATED)
async def create_label(caller: Admin, body: LabelIn, labels: Labels) -> LabelOut:
    """Define a label (admin role; a label granting a level needs a role above it)."""
    created = await labels.create(
        caller.community_id,
        body.name,
        colour=body.colour,
        description=body.description,
        grants_level=body.grants_level,
        actor=caller.actor,
        actor_level=caller.level,
    )
    return LabelOut.from_record(created)


@router.delete("/labels/{name}", response_model=Removed)
async def delete_label(caller: Admin, name: str, labels: Labels) -> Removed:
    """Delete a label and take it off everyone (admin role)."""
    removed = await labels.delete(caller.community_id, name, caller.actor, actor_level=caller.level)
    return Removed(removed_from=removed)


@router.post("/labels/{name}/targets", response_model=Applied)
async def apply_label(caller: Moderator, name: str, body: ApplyIn, labels: Labels) -> Applied:
    """Apply a label to up to 1,000 targets in one transaction: all of them, or none when
    any would go over its limit (moderator role)."""
    applied = await labels.bulk_apply(
        caller.community_id,
        name,
        body.target_type,
        body.target_ids,
        actor=caller.actor,
        expires_at=body.expires_at,
        actor_level=caller.level,
    )
    return Applied(applied=applied)


@router.delete(
    "/labels/{name}/targets/{target_type}/{target_id}", status_code=status.HTTP_204_NO_CONTENT
)
async def remove_label(
    caller: Moderator, name: str, target_type: TargetType, target_id: str, labels: Labels
) -> Response:
    """Take a label off one target (moderator role)."""
    removed = await labels.remove(
        caller.community_id, name, target_type, target_id, caller.actor, actor_level=caller.level
    )
    if not removed:
        raise NotFound(f"{target_id} does not have {name}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/targets/{target_type}/{target_id}", response_model=Page[AssignmentOut])
async def labels_of(
    caller: Moderator, target_type: TargetType, target_id: str, labels: Labels, paging: PageOf
) -> Page[AssignmentOut]:
    """The labels one target has here (moderator role)."""
    found = await labels.labels_of(caller.community_id, target_type, target_id)
    return paging.page_of_all([AssignmentOut.of(assignment) for assignment in found])


@router.get("/limits", response_model=Limits)
async def get_limits(caller: Moderator, labels: Labels) -> Limits:
    """How many labels people, the community and items may carry here (moderator role)."""
    return Limits(**await labels.limits(caller.community_id))


@router.patch("/limits", response_model=Limits)
async def set_limits(caller: Admin, body: LimitsIn, labels: Labels) -> Limits:
    """Change some of the community's label limits (admin role)."""
    changes = body.model_dump(exclude_none=True)
    return Limits(**await labels.set_limits(caller.community_id, changes, caller.actor))
