"""One error model: each kind answers one HTTP status with its sentence, and chat says it."""

from __future__ import annotations

import httpx2
import pytest
from fastapi import FastAPI

from waddlebot.core.contract import ModuleRequest
from waddlebot.core.errors import (
    REFUSALS,
    Conflict,
    LimitReached,
    Missing,
    NotAllowed,
    NotFound,
    Taken,
    UnknownNumber,
    UserError,
    WaddleError,
)
from waddlebot.features.identity.apikeys import KeyLimitReached
from waddlebot.sdk import Context, Module, UsageError, usage_unless_refusal
from waddlebot.web import errors


class Gadget(Missing):
    noun = "item"


class GadgetTaken(Taken):
    noun = "item"


class CommandTaken(Taken):
    noun = "custom command"
    mark = "!"


def test_named_things_are_said_the_same_way_everywhere() -> None:
    assert str(Gadget("camera")) == "there is no item camera here"
    assert str(GadgetTaken("camera")) == "there is already an item camera here"
    assert str(CommandTaken("hi")) == "there is already a custom command !hi here"
    assert str(UnknownNumber("quote", 2)) == "there is no quote #2 here"
    assert isinstance(Gadget("x"), LookupError) and isinstance(Gadget("x"), ValueError)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (UserError("bad"), 422, "invalid_request"),
        (WaddleError("bad"), 422, "invalid_request"),
        (NotFound("gone"), 404, "not_found"),
        (Conflict("taken"), 409, "conflict"),
        (NotAllowed("no"), 403, "forbidden"),
        (LimitReached("full"), 422, "limit_reached"),
        (KeyLimitReached("five keys"), 409, "limit_reached"),
    ],
)
async def test_each_kind_answers_its_status_and_code_with_its_sentence(
    error: WaddleError, status: int, code: str
) -> None:
    app = FastAPI()
    errors.install(app)

    @app.get("/x")
    async def refuse() -> None:
        raise error

    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/x")
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == {
        "type": f"urn:waddlebot:problem:{code}",
        "title": answer.json()["title"],
        "status": status,
        "detail": str(error),
        "instance": "/x",
        "code": code,
        "request_id": "",  # no request id middleware in this app
    }


def _request(command: str) -> ModuleRequest:
    return ModuleRequest(
        session_id="s1",
        kind="command",
        community_id=1,
        entity_id="console:local",
        platform="console",
        command=command,
    )


async def test_chat_says_a_refusal_after_what_was_said_before_it() -> None:
    module = Module("m")

    @module.command("lend")
    async def lend(ctx: Context) -> None:
        ctx.reply("looking")
        raise Gadget("camera")

    @module.command("typo")
    async def typo(ctx: Context) -> None:
        try:
            raise UserError("an item needs a name")
        except UserError as exc:
            usage_unless_refusal(exc)

    @module.command("full")
    async def full(ctx: Context) -> None:
        try:
            raise LimitReached("this community already has 500 items (the limit)")
        except WaddleError as exc:
            usage_unless_refusal(exc)

    said = await module.handle(_request("lend"))
    assert [r.text for r in said.replies] == ["looking", "There is no item camera here."]
    assert (await module.handle(_request("typo"))).usage_error == "an item needs a name"
    full_said = await module.handle(_request("full"))
    assert [r.text for r in full_said.replies] == [
        "This community already has 500 items (the limit)."
    ]
    assert all(issubclass(kind, WaddleError) for kind in REFUSALS)
    assert not issubclass(UserError, REFUSALS) and issubclass(UsageError, Exception)
