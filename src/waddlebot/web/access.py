"""Who is calling the HTTP API, and what they may do in which community (RBAC).

A caller is a *principal*: a service account (WaddleBot's own services, Kong, collectors) or a
person (a user API key, later a portal session). Service accounts without a community see
everything; one tied to a community sees only that one. A person's rights in a community are
their role there (owner > admin > moderator > member); one community's admin has no rights at
all in another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from waddlebot.infra.directory import Directory

ROLE_RANK = {"member": 0, "moderator": 1, "admin": 2, "owner": 3}
Role = Literal["member", "moderator", "admin", "owner"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["service", "user"]
    name: str
    user_id: int | None = None
    community_id: int | None = None  # a service account tied to one community
    key_id: str = ""
    role: str = ""  # a service account's role: "admin" (everything) or "collector"
    read_only: bool = False  # a key with the "read" scope only

    @property
    def is_global_service(self) -> bool:
        return self.kind == "service" and self.community_id is None

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        if self.kind == "user":
            return f"user:{self.user_id}"
        return f"service:{self.key_id or self.name}"


class AccessDenied(PermissionError):
    """The caller may not do this; the message says what would be needed."""


class Access:
    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def role_in(self, principal: Principal, community_id: int) -> Role | None:
        """The caller's effective role in a community: service accounts act as its owner
        (within their scope), people have the role they were given."""
        if principal.kind == "service":
            # a collector only delivers events; it manages nothing
            if principal.role != "collector" and principal.community_id in (None, community_id):
                return "owner"
            return None
        if principal.user_id is None:
            return None
        role = await self._directory.member_role(community_id, principal.user_id)
        return role if role in ROLE_RANK else None  # type: ignore[return-value]

    async def require(self, principal: Principal, community_id: int, role: Role) -> Role:
        """The caller's role, when it is at least ``role``; :class:`AccessDenied` otherwise.
        Callers without any role there are told the same as everyone else, so the API does
        not reveal which communities exist."""
        held = await self.role_in(principal, community_id)
        if held is None or ROLE_RANK[held] < ROLE_RANK[role]:
            raise AccessDenied(f"this needs the {role} role in community {community_id}")
        return held

    async def communities(
        self, principal: Principal, at_least: Role
    ) -> list[tuple[int, str, Role]]:
        """The communities where a person holds ``at_least`` that role: (id, name, role)."""
        if principal.kind != "user" or principal.user_id is None:
            return []
        roles = [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[at_least]]
        found = await self._directory.communities_of(principal.user_id, roles)
        return [(i, name, role) for i, name, role in found]  # type: ignore[misc]

    async def community_exists(self, community_id: int) -> bool:
        return await self._directory.community_exists(community_id)

    @staticmethod
    def require_service(principal: Principal) -> None:
        if not principal.is_global_service:
            raise AccessDenied("this needs a service API key without a community")
