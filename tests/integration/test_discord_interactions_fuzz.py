"""The HTTP interactions endpoint under validly signed random interactions: every interaction
type, options trees holding any JSON, guild ids, members and users of any shape, timestamps
of any kind. Whatever comes, the answer is 2xx or 4xx; a well-formed, fresh slash command
reaches the bus exactly once; and each thing the fuzzers found, as an example of its own."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.discord import FakeDiscord, payloads
from tests.fakes.discord.model import Guild
from tests.support.webhook_fuzz import (
    FUZZ,
    Served,
    Stamp,
    bend,
    chance,
    dumps,
    exchange,
    ids,
    json_values,
    junk_text,
    mostly,
    odd_values,
    serve,
    single_bends,
    unix_stamps,
    with_fields,
)
from waddlebot.platforms import DISCORD
from waddlebot.platforms.discord.interactions import PATH
from waddlebot.settings import Settings

PING, COMMAND = 1, 2
_WORDS = st.text("abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=32)
_SAYABLE = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=100
)


@dataclass
class Discord:
    fake: FakeDiscord
    served: Served
    guild: Guild


@pytest.fixture
async def discord(settings: Settings) -> AsyncIterator[Discord]:
    async with FakeDiscord() as fake:
        owner = fake.add_user(username="olga")
        guild = fake.add_guild("Waddle Den", owner=owner, channels=("general",))
        chosen = with_fields(
            settings,
            discord_token=fake.token,
            discord_application_id=fake.application_id,
            discord_api_url=fake.api_url,
            discord_guild_ready_timeout=0.05,
            discord_public_key=fake.public_key,
            discord_inline_wait_seconds=0,  # no router here: every command is deferred
        )
        async with serve(chosen, ["discord"]) as served:
            collector = served.runtime.collector(DISCORD)
            assert collector is not None
            await fake.wait_until(collector.is_ready, what="the collector ready")
            yield Discord(fake, served, guild)


# ----- what Discord could send -----------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    body: bytes
    stamp: Stamp
    kind: Any
    valid: bool  # well formed: a fresh one must be taken
    interaction_id: str = ""
    name: str = ""


def _option_values() -> st.SearchStrategy[tuple[int, Any]]:
    """(option type, value) as Discord sends them: strings, integers, booleans, ids, numbers."""
    return st.one_of(
        _SAYABLE.map(lambda v: (3, v)),
        st.integers(-(2**53), 2**53).map(lambda v: (4, v)),
        st.booleans().map(lambda v: (5, v)),
        ids().map(lambda v: (6, v)),
        st.floats(allow_nan=False, allow_infinity=False).map(lambda v: (10, v)),
    )


@st.composite
def options(draw: st.DrawFn, depth: int = 0) -> list[dict[str, Any]]:
    """A valid options tree: values, or a subcommand (group) holding more."""
    found = []
    for _ in range(draw(st.integers(0, 3))):
        if depth < 2 and chance(draw, 4):
            found.append(
                {"type": 1 + depth, "name": draw(_WORDS), "options": draw(options(depth + 1))}
            )
        else:
            type_, value = draw(_option_values())
            found.append({"type": type_, "name": draw(_WORDS), "value": value})
    return found


@st.composite
def interactions(draw: st.DrawFn, guild: Guild) -> Sent:
    kind = draw(mostly(st.sampled_from([COMMAND] * 4 + [PING, 3, 4, 5]), json_values(), 10))
    interaction_id, name = draw(ids()), draw(_WORDS)
    in_guild = draw(st.sampled_from(["ours", "ours", "other", "dm"]))
    body: Any = payloads.interaction(
        name,
        options=draw(options()),
        interaction_id=interaction_id,
        token=draw(_WORDS),
        user=draw(ids()),
        guild=None if in_guild == "dm" else guild.id if in_guild == "ours" else draw(ids()),
        channel=draw(ids()) if in_guild != "ours" else next(iter(guild.channels)),
        roles=draw(st.lists(ids(), max_size=3)),
        permissions=draw(st.integers(0, 2**41)),
        nick=draw(st.none() | _SAYABLE),
        type_=kind,
    )
    valid = type(kind) is int and kind in (COMMAND, PING)  # not True, nor 2.0
    # the fields the endpoint reads first, each bent often enough to be reached every run
    if chance(draw, 5):
        valid = False
        body["guild_id"] = draw(st.one_of(junk_text(), odd_values()))
    if chance(draw, 4):
        valid = False
        who = "member" if "member" in body else "user"
        body[who] = bend(draw, body[who]) if chance(draw, 2) else draw(odd_values())
    if chance(draw, 4):  # an options tree of anything
        valid = False
        body["data"]["options"] = draw(json_values())
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        valid = False
        body = bend(draw, body)
    raw = dumps(body)
    if chance(draw, 12):
        valid = False
        raw = draw(st.one_of(json_values().map(dumps), st.binary(max_size=64)))
    return Sent(raw, draw(unix_stamps()), kind, valid, interaction_id, name)


async def _send(discord: Discord, body: bytes, timestamp: str) -> httpx2.Response:
    signature = discord.fake.keys.sign(timestamp.encode() + body)
    headers = {
        "Content-Type": "application/json",
        "X-Signature-Ed25519": signature,
        "X-Signature-Timestamp": timestamp,
    }
    return await discord.served.http.post(PATH, content=body, headers=headers)


@FUZZ
@given(data=st.data())
async def test_every_signed_interaction_is_answered_without_a_server_error(
    discord: Discord, data: st.DataObject
) -> None:
    sent = data.draw(interactions(discord.guild))
    sending = _send(discord, sent.body, sent.stamp.unix(time.time()))
    response, published = await exchange(discord.served, sending)
    if not sent.stamp.fresh:
        assert response.status_code == 401, "a stale or future interaction was taken"
        return
    if not sent.valid:
        return
    assert response.status_code == 200, response.text
    if sent.kind == PING:
        assert (response.json(), published) == ({"type": 1}, [])
        return
    assert response.json() == {"type": 5}  # deferred: the answer follows
    assert [(e.platform, e.message_id) for e in published] == [("discord", sent.interaction_id)]
    assert published[0].text.split(" ")[0] == f"/{sent.name}"


@pytest.mark.parametrize("mode", ["distributed"], indirect=True)
async def test_every_single_field_bent_is_answered_without_a_server_error(
    discord: Discord,
) -> None:
    base = payloads.interaction(
        "quote",
        options=[payloads.subcommand("add", {"text": "to be or not", "n": 3, "ok": True})],
        guild=discord.guild.id,
        channel=next(iter(discord.guild.channels)),
        user="4242",
        roles=["1"],
        permissions=8,
    )
    dm = payloads.interaction("ping", user="4242", options={"n": 1})
    for example in (base, dm):
        for what, bent in single_bends(example, depth=2):
            await exchange(discord.served, _send(discord, dumps(bent), str(int(time.time()))), what)


# ----- what the fuzzers found, one example each ----------------------------------------------

MALFORMED = Path(__file__).resolve().parents[1] / "fixtures" / "discord" / "malformed"


async def test_malformed_interactions_are_refused_naming_their_field(discord: Discord) -> None:
    for name, reason in [
        (
            "interaction.guild_id_not_an_id",
            "interaction.guild_id: Value error, must be a Discord id",
        ),
        (
            "interaction.options_not_a_list",
            "interaction.data.options: Input should be a valid list",
        ),
        ("interaction.option_type_not_a_number", "interaction.data.options.0.type: Input should"),
        ("interaction.permissions_not_decimal", "interaction.member.permissions: Value error"),
        ("interaction.nick_too_long", "author.display_name: String should have at most 256"),
    ]:
        body = (MALFORMED / f"{name}.json").read_bytes()
        response = await _send(discord, body, str(int(time.time())))
        assert (response.status_code, name) == (400, name)
        assert reason in response.json()["detail"]
    assert await discord.served.tap.taken() == []


async def test_timestamps_that_are_no_recent_unix_time_are_refused(discord: Discord) -> None:
    ping = dumps(payloads.ping())
    now = int(time.time())
    for timestamp in [
        "1" + "0" * 400,  # too large for a float
        "-" + "9" * 400,
        "9" * 5000,  # more digits than int() reads
        str(now - 360),  # replayed
        str(now + 360),  # ahead of our clock
        f"+{now}",
        f"{now:_}",
        "",
    ]:
        response = await _send(discord, ping, timestamp)
        assert (response.status_code, timestamp[:10]) == (401, timestamp[:10])
    for fresh in (now - 240, now, now + 240):
        assert (await _send(discord, ping, str(fresh))).json() == {"type": 1}
