"""The seam between the portal and the features: a page a feature adds to a community's part of
the portal. The app gathers every feature's ``Feature.pages`` when it serves the ``portal``
service; the navigation lists a page to those whose role in the community is at least
``role``, and the same check guards every route of its router (docs/portal.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from waddlebot.web.access import Role

if TYPE_CHECKING:
    from fastapi import APIRouter

PREFIX = "/c/{community_id}"  # every community page's path starts with it


@dataclass(frozen=True, slots=True)
class PortalPage:
    """``router``'s paths start with :data:`PREFIX` + ``path``; ``title`` is its link in the
    navigation; ``role`` the least role that opens it (moderator, admin or owner)."""

    path: str  # e.g. "/commands": the page is /c/{community_id}/commands
    title: str
    router: APIRouter
    role: Role = "moderator"

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or (self.path.endswith("/") and self.path != "/"):
            raise ValueError(
                f"a portal page's path starts with / and does not end with one: {self.path!r}"
            )
        if self.role == "member":
            raise ValueError(
                "portal pages are for moderators and up: role is moderator, admin or owner"
            )

    def href(self, community_id: int) -> str:
        return f"/c/{community_id}{self.path}"
