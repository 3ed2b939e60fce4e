"""Who is looking at a portal page: the signed-in person (else a redirect to the sign-in page)
and, under ``/c/{community_id}``, their role there (else a 404: a community where one has no
role does not exist for them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from waddlebot.portal.security import SESSION_COOKIE
from waddlebot.web.access import ROLE_RANK, Principal, Role
from waddlebot.web.deps import CommunityCaller, actor_of, authenticate, person_named
from waddlebot.web.host import Running

FLOOR: Role = "moderator"  # the least role that opens a community's pages


class SignInRequired(Exception):
    """No valid session: the page redirects to /login?next=<where it was>."""


class PageNotFound(Exception):
    """A 404 page (also for a community where the person has no role)."""


class RoleTooLow(Exception):
    """The person has a role in the community, but not the one this page needs."""

    def __init__(self, role: Role) -> None:
        super().__init__(f"this page needs the {role} role")
        self.role = role


@dataclass(frozen=True, slots=True)
class PortalPerson:
    """The signed-in person, their session token and how the audit log names them."""

    user_id: int
    name: str
    token: str
    principal: Principal
    actor: str


@dataclass(frozen=True, slots=True)
class PortalCommunity:
    id: int
    name: str
    role: Role


async def current_person(request: Request, host: Running) -> PortalPerson | None:
    """The person whose session the browser presents, or None."""
    found: PortalPerson | None = getattr(request.state, "portal_person", None)
    if found is not None:
        return found
    token = request.cookies.get(SESSION_COOKIE, "")
    principal = await authenticate(host, token) if token else None
    # a session, not an API key put in the cookie: those are for programs
    if (
        principal is None
        or principal.kind != "user"
        or principal.user_id is None
        or principal.key_id
    ):
        return None
    name = await person_named(host, principal.user_id)
    person = PortalPerson(principal.user_id, name, token, principal, actor_of(principal, request))
    request.state.portal_person = person
    return person


async def signed_in(request: Request, host: Running) -> PortalPerson:
    person = await current_person(request, host)
    if person is None:
        raise SignInRequired
    request.state.portal_communities = await host.access.communities(person.principal, FLOOR)
    return person


SignedIn = Annotated[PortalPerson, Depends(signed_in)]


async def in_community(community_id: str, request: Request, person: SignedIn) -> PortalCommunity:
    """The community of the page, when the person holds at least :data:`FLOOR` there."""
    for id_, name, role in request.state.portal_communities:
        if community_id.isascii() and community_id.isdigit() and id_ == int(community_id):
            community = PortalCommunity(id_, name, role)
            request.state.portal_community = community
            return community
    raise PageNotFound


InCommunity = Annotated[PortalCommunity, Depends(in_community)]


class PageAccess:
    """Guards every route of a :class:`~waddlebot.portal.pages.PortalPage`: its ``role``."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, community: InCommunity) -> None:
        if ROLE_RANK[community.role] < ROLE_RANK[self.role]:
            raise RoleTooLow(self.role)


async def community_caller(community: InCommunity, person: SignedIn) -> CommunityCaller:
    """The person in the page's community as the HTTP API sees a caller there (their level,
    whether they moderate, what the audit log calls them): what a page hands the services."""
    return CommunityCaller(person.principal, community.id, community.role, person.actor)


Caller = Annotated[CommunityCaller, Depends(community_caller)]
