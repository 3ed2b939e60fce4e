"""``/api/v1/memories/communities/{community_id}``: a community's quotes, URLs, notes and
reminders over HTTP, for the portal and scripts.

Any role in the community (member and up) reads; what a caller may add, change or remove is
decided by the services exactly as in chat, with the caller's community role as their level
(member 100, moderator 500, admin 1000, owner 1500; a service account may do anything): adding
quotes, links and notes needs more than a member, so moderators and up add them, and a member
may change or remove what they added themselves in chat.

The role is checked by a dependency, before the path and the body are read, so a caller
without a role in the community gets 403 whatever they send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field, model_validator

from waddlebot.core.language import When
from waddlebot.features.memories import notes as notes_service
from waddlebot.features.memories import quotes as quotes_service
from waddlebot.features.memories import reminders as reminders_service
from waddlebot.features.memories import urls as urls_service
from waddlebot.features.memories.common import NumberedService
from waddlebot.features.memories.service import (
    Author,
    Memories,
    MemoriesError,
    ReminderInfo,
    Speaker,
    UnknownNumber,
)
from waddlebot.features.shared import Services
from waddlebot.web.deps import Member
from waddlebot.web.numbers import Id
from waddlebot.web.pages import Page, PageOf
from waddlebot.web.records import FromRecord

router = APIRouter(prefix="/api/v1/memories/communities/{community_id}", tags=["memories"])

Number = Id
Search = Annotated[str | None, Query(min_length=1, max_length=200)]


@dataclass(frozen=True, slots=True)
class Asking:
    """A caller with a role in the community, as the memories services know them."""

    memories: Memories
    community_id: int
    author: Author


async def asking(caller: Member, runtime: Services) -> Asking:
    """The caller, when they have a role in the community (403 otherwise), named as in chat."""
    principal = caller.principal
    name = principal.name
    if principal.user_id is not None:
        name = await runtime.memories.user_name(principal.user_id) or principal.actor
    author = Author(name=name, user_id=principal.user_id, level=caller.level, actor=caller.actor)
    return Asking(runtime.memories, caller.community_id, author)


Who = Annotated[Asking, Depends(asking)]


def _one_by_number(
    kind: str, out: type[FromRecord], kept: Callable[[Memories], NumberedService[Any]], removal: str
) -> None:
    """``GET`` and ``DELETE`` ``/<kind>s/{number}``: the quote, link or note by that number
    (404 when there is none), and its removal (``removal`` says who may)."""

    async def get_one(number: Number, who: Who) -> Any:
        found = await kept(who.memories).get(who.community_id, number)
        if found is None:
            raise UnknownNumber(kept(who.memories).noun, number)
        return out.model_validate(found)

    async def remove_one(number: Number, who: Who) -> Response:
        await kept(who.memories).remove(who.community_id, number, author=who.author)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    path = f"/{kind}s/{{number}}"
    router.add_api_route(path, get_one, methods=["GET"], response_model=out, name=f"get_{kind}")
    router.add_api_route(
        path,
        remove_one,
        methods=["DELETE"],
        status_code=status.HTTP_204_NO_CONTENT,
        name=f"remove_{kind}",
        description=removal,
    )


# ----- quotes ---------------------------------------------------------------------------------


class QuoteOut(FromRecord):
    number: int
    text: str
    said_by: str = Field(description="who said it, as written; empty when nobody was named")
    said_by_user_id: int | None
    added_by: str
    added_by_user_id: int | None
    platform: str = Field(description="where it was added; empty over the API")
    game: str = Field(description="what was played, when the platform said; else empty")
    created_at: datetime
    updated_at: datetime


class QuoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=quotes_service.MAX_TEXT)
    said_by: str = Field(default="", max_length=quotes_service.MAX_NAME)
    game: str = Field(default="", max_length=quotes_service.MAX_GAME)


class QuoteChange(BaseModel):
    text: str | None = Field(default=None, min_length=1, max_length=quotes_service.MAX_TEXT)
    said_by: str | None = Field(default=None, min_length=1, max_length=quotes_service.MAX_NAME)


@router.get("/quotes", response_model=Page[QuoteOut])
async def list_quotes(who: Who, paging: PageOf, search: Search = None) -> Page[QuoteOut]:
    """The community's quotes by number; with ``search``, those that match it (member)."""
    quotes = who.memories.quotes
    limit, offset = paging.limit + 1, paging.offset
    if search is not None:
        found, _ = await quotes.search(who.community_id, search, limit=limit, offset=offset)
    else:
        found = await quotes.list(who.community_id, limit=limit, offset=offset)
    return paging.page([QuoteOut.model_validate(quote) for quote in found])


@router.post("/quotes", response_model=QuoteOut, status_code=status.HTTP_201_CREATED)
async def add_quote(body: QuoteIn, who: Who) -> QuoteOut:
    """Add a quote (moderator role and up)."""
    added = await who.memories.quotes.add(
        who.community_id,
        body.text,
        author=who.author,
        said_by=Speaker(body.said_by) if body.said_by.strip() else None,
        game=body.game,
    )
    return QuoteOut.model_validate(added)


@router.patch("/quotes/{number}", response_model=QuoteOut)
async def edit_quote(number: Number, body: QuoteChange, who: Who) -> QuoteOut:
    """Change a quote's text or who said it (moderator role and up, or whoever added it)."""
    edited = await who.memories.quotes.edit(
        who.community_id,
        number,
        author=who.author,
        text=body.text,
        said_by=Speaker(body.said_by) if body.said_by is not None else None,
    )
    return QuoteOut.model_validate(edited)


_one_by_number(
    "quote",
    QuoteOut,
    lambda memories: memories.quotes,
    "Remove a quote (moderator role and up, or whoever added it); its number is not given again.",
)


# ----- URLs -----------------------------------------------------------------------------------


class UrlOut(FromRecord):
    number: int
    url: str
    title: str
    added_by: str
    added_by_user_id: int | None
    created_at: datetime


class UrlIn(BaseModel):
    url: str = Field(min_length=1, max_length=urls_service.MAX_URL + 10)
    title: str = Field(default="", max_length=urls_service.MAX_TITLE)


@router.get("/urls", response_model=Page[UrlOut])
async def list_urls(who: Who, paging: PageOf, search: Search = None) -> Page[UrlOut]:
    """The community's links by number; with ``search``, those whose title or address holds
    every word (member)."""
    urls = who.memories.urls
    if search is not None:
        found = await urls.search(who.community_id, search, limit=paging.end)
        return paging.page_of_all([UrlOut.model_validate(link) for link in found])
    found = await urls.list(who.community_id, limit=paging.limit + 1, offset=paging.offset)
    return paging.page([UrlOut.model_validate(link) for link in found])


@router.post("/urls", response_model=UrlOut, status_code=status.HTTP_201_CREATED)
async def add_url(body: UrlIn, who: Who) -> UrlOut:
    """Save a link (moderator role and up)."""
    added = await who.memories.urls.add(who.community_id, body.url, body.title, author=who.author)
    return UrlOut.model_validate(added)


_one_by_number(
    "url",
    UrlOut,
    lambda memories: memories.urls,
    "Remove a link (moderator role and up, or whoever added it).",
)


# ----- notes ----------------------------------------------------------------------------------


class NoteOut(FromRecord):
    number: int
    text: str
    labels: list[str]
    added_by: str
    added_by_user_id: int | None
    created_at: datetime
    updated_at: datetime


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=notes_service.MAX_TEXT)
    labels: list[str] = Field(default_factory=list, max_length=notes_service.MAX_LABELS)


class NoteChange(BaseModel):
    text: str | None = Field(default=None, min_length=1, max_length=notes_service.MAX_TEXT)
    labels: list[str] | None = Field(
        default=None,
        max_length=notes_service.MAX_LABELS,
        description="all of the note's labels: they replace the ones it had",
    )


@router.get("/notes", response_model=Page[NoteOut])
async def list_notes(
    who: Who,
    paging: PageOf,
    label: Annotated[str | None, Query(min_length=1, max_length=33)] = None,
) -> Page[NoteOut]:
    """The community's notes by number; with ``label``, those that have it (member)."""
    found = await who.memories.notes.list(
        who.community_id, label, limit=paging.limit + 1, offset=paging.offset
    )
    return paging.page([NoteOut.model_validate(note) for note in found])


@router.post("/notes", response_model=NoteOut, status_code=status.HTTP_201_CREATED)
async def add_note(body: NoteIn, who: Who) -> NoteOut:
    """Add a note with up to 10 labels (moderator role and up)."""
    added = await who.memories.notes.add(
        who.community_id, body.text, body.labels, author=who.author
    )
    return NoteOut.model_validate(added)


@router.patch("/notes/{number}", response_model=NoteOut)
async def edit_note(number: Number, body: NoteChange, who: Who) -> NoteOut:
    """Change a note's text or labels (moderator role and up, or whoever added it)."""
    edited = await who.memories.notes.edit(
        who.community_id, number, author=who.author, text=body.text, labels=body.labels
    )
    return NoteOut.model_validate(edited)


_one_by_number(
    "note",
    NoteOut,
    lambda memories: memories.notes,
    "Remove a note (moderator role and up, or whoever added it).",
)


# ----- reminders ------------------------------------------------------------------------------


class ReminderOut(FromRecord):
    number: int
    text: str
    place: str = Field(description="the place (entity) it posts in, or was set in if private")
    platform: str
    private: bool = Field(description="sent by private message to whoever set it")
    due_at: datetime = Field(description="when it is sent next")
    repeat: str = Field(description="once, daily or weekly")
    weekday: int | None = Field(description="for weekly ones: 0 is Monday")
    time_of_day: str = Field(description="HH:MM in timezone, for daily and weekly ones")
    timezone: str
    created_by: str
    created_by_user_id: int | None
    runs: int = Field(description="how often a recurring one was sent")
    created_at: datetime

    @classmethod
    def of(cls, info: ReminderInfo) -> ReminderOut:
        return cls.from_record(info, place=info.entity_id)


class ReminderIn(BaseModel):
    place: str = Field(min_length=3, max_length=256, description="a place of the community")
    text: str = Field(min_length=1, max_length=reminders_service.MAX_TEXT)
    when: str | None = Field(
        default=None,
        max_length=100,
        description="as in chat: 'in 10m', 'at 18:30', 'every monday 20:00', 'every day 20:00'",
    )
    due_at: datetime | None = Field(default=None, description="once, at this moment (with zone)")

    @model_validator(mode="after")
    def _one_time(self) -> ReminderIn:
        if (self.when is None) == (self.due_at is None):
            raise ValueError("give either when or due_at")
        return self

    def schedule(self) -> When:
        if self.due_at is not None:
            return When("once", moment=self.due_at)
        when, rest = reminders_service.parse_when(self.when or "")
        if rest:
            raise MemoriesError(f"when has more than a time in it: {rest!r}")
        return when


@router.get("/reminders", response_model=Page[ReminderOut])
async def list_reminders(who: Who, paging: PageOf) -> Page[ReminderOut]:
    """The reminders for places, and the caller's own private ones, soonest first (member; a
    service account sees all)."""
    found = await who.memories.reminders.list(who.community_id, viewer=who.author)
    return paging.page_of_all([ReminderOut.of(reminder) for reminder in found])


@router.get("/reminders/{number}", response_model=ReminderOut)
async def get_reminder(number: Number, who: Who) -> ReminderOut:
    found = await who.memories.reminders.get(who.community_id, number, viewer=who.author)
    if found is None:
        raise UnknownNumber("reminder", number)
    return ReminderOut.of(found)


@router.post("/reminders", response_model=ReminderOut, status_code=status.HTTP_201_CREATED)
async def add_reminder(body: ReminderIn, who: Who) -> ReminderOut:
    """Set a reminder that posts in a place of the community (moderator role and up)."""
    reminders = who.memories.reminders
    place = await reminders.place(who.community_id, body.place)
    if place is None:
        raise MemoriesError(f"{body.place} is not a place of this community")
    added = await reminders.add(
        who.community_id, place, body.schedule(), body.text, author=who.author
    )
    return ReminderOut.of(added)


@router.delete("/reminders/{number}", status_code=status.HTTP_204_NO_CONTENT)
async def cancel_reminder(number: Number, who: Who) -> Response:
    """Cancel a reminder (its setter; moderator role and up for those of places)."""
    await who.memories.reminders.cancel(who.community_id, number, author=who.author)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
