"""``/api/v1/inventory/communities/{community_id}``: a community's inventory over HTTP.

Members (any role in the community) read it and check things out for themselves and in;
moderators add, remove and label items, check out for someone else and check in anything.
The role is checked before the body is read, so another community's admin gets 403 whatever
they send. Service accounts act for someone only when told whom (``user_id``).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from waddlebot.core.errors import NotFound
from waddlebot.features.inventory.service import (
    MAX_LABELS,
    CheckoutInfo,
    ItemInfo,
    State,
    UnknownItem,
)
from waddlebot.features.shared import Services
from waddlebot.web.deps import ForSomeone, Member, Moderator
from waddlebot.web.pages import Page, PageOf
from waddlebot.web.records import FromRecord

router = APIRouter(prefix="/api/v1/inventory/communities/{community_id}", tags=["inventory"])


# ----- bodies ------------------------------------------------------------------------------


class ItemOut(FromRecord):
    name: str
    description: str
    labels: list[str]
    available: bool
    holder_user_id: int | None
    holder: str = Field(description="how chat names who has it, e.g. @bob; empty when available")
    checked_out_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, info: ItemInfo) -> ItemOut:
        return cls.from_record(info, available=not info.out, holder=info.holder_name)


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=300)
    labels: list[str] = Field(default_factory=list, max_length=MAX_LABELS)


class CheckoutOut(FromRecord):
    user_id: int | None
    user: str
    out_at: datetime
    in_at: datetime | None

    @classmethod
    def of(cls, info: CheckoutInfo) -> CheckoutOut:
        return cls.from_record(info, user=info.user_name)


class LabelAdded(BaseModel):
    added: bool = Field(description="false when the item had the label already")


# ----- endpoints ----------------------------------------------------------------------------


@router.get("/items", response_model=Page[ItemOut])
async def list_items(
    caller: Member,
    runtime: Services,
    paging: PageOf,
    state: State = Query(default="all"),
    q: str = Query(default="", max_length=200, description="words to search for"),
) -> Page[ItemOut]:
    """The community's items by name (any role): all, available or out; ``q`` searches names,
    descriptions and labels (``#label`` for labels only)."""
    service = runtime.inventory
    if q.split():
        found = await service.search(caller.community_id, q.split())
        if state != "all":
            found = [item for item in found if item.out == (state == "out")]
    else:
        found = await service.list(caller.community_id, state)
    return paging.page_of_all([ItemOut.of(item) for item in found])


@router.post("/items", response_model=ItemOut, status_code=status.HTTP_201_CREATED)
async def add_item(caller: Moderator, runtime: Services, body: ItemIn) -> ItemOut:
    """Add an item (moderator role)."""
    info = await runtime.inventory.add(
        caller.community_id, body.name, body.description, body.labels, actor=caller.actor
    )
    return ItemOut.of(info)


@router.get("/items/{name}", response_model=ItemOut)
async def get_item(caller: Member, runtime: Services, name: str) -> ItemOut:
    """One item: who has it since when (any role)."""
    info = await runtime.inventory.get(caller.community_id, name)
    if info is None:
        raise UnknownItem(name)
    return ItemOut.of(info)


@router.delete("/items/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_item(caller: Moderator, runtime: Services, name: str) -> Response:
    """Remove an item with its history (moderator role); 409 while it is checked out."""
    await runtime.inventory.remove(caller.community_id, name, actor=caller.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/items/{name}/checkout", response_model=ItemOut)
async def checkout(caller: Member, runtime: Services, name: str, whom: ForSomeone) -> ItemOut:
    """Check an item out to the caller, or to ``user_id`` (moderator role). 409 when it is
    out: of two at the same moment, exactly one gets it."""
    info = await runtime.inventory.checkout(
        caller.community_id, name, whom.user_id, whom.name, actor=caller.actor
    )
    return ItemOut.of(info)


@router.post("/items/{name}/checkin", response_model=CheckoutOut)
async def checkin(caller: Member, runtime: Services, name: str) -> CheckoutOut:
    """Check an item in: the person who has it, or a moderator. Returns the lending it ends."""
    holder = None if caller.moderator else caller.user_id
    closed = await runtime.inventory.checkin(
        caller.community_id, name, holder_user_id=holder, actor=caller.actor
    )
    return CheckoutOut.of(closed)


@router.get("/items/{name}/history", response_model=Page[CheckoutOut])
async def history(
    caller: Member, runtime: Services, name: str, paging: PageOf
) -> Page[CheckoutOut]:
    """The item's last ten lendings, newest first (any role)."""
    _, lendings = await runtime.inventory.history(caller.community_id, name)
    return paging.page_of_all([CheckoutOut.of(lending) for lending in lendings])


@router.put("/items/{name}/labels/{label}", response_model=LabelAdded)
async def add_label(caller: Moderator, runtime: Services, name: str, label: str) -> LabelAdded:
    """Label an item (moderator role); at most ten labels per item."""
    added = await runtime.inventory.add_label(caller.community_id, name, label, actor=caller.actor)
    return LabelAdded(added=added)


@router.delete("/items/{name}/labels/{label}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_label(caller: Moderator, runtime: Services, name: str, label: str) -> Response:
    """Take a label off an item (moderator role); 404 when it did not have it."""
    removed = await runtime.inventory.remove_label(
        caller.community_id, name, label, actor=caller.actor
    )
    if not removed:
        raise NotFound(f"{name} does not have {label}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


__all__ = ["router"]
