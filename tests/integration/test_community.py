"""Communities from chat: linking a Twitch place into the console's community with a one-time
code (the test plays the Twitch collector: it sends Twitch events through the router), unlink,
rename, roles and who may change them, and the code rules on the service with a controlled
clock. Embedded and distributed."""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import NamedTuple

import orjson
import pytest
from sqlalchemy import select

from tests.support.harness import chat_event, say
from waddlebot.core.clock import ManualClock
from waddlebot.core.contract import Visibility
from waddlebot.core.permissions import PlatformRole
from waddlebot.features.community.module import build_community_module
from waddlebot.features.community.service import CommunityError, CommunityService
from waddlebot.features.identity.models import LinkCode
from waddlebot.features.identity.service import CODE_ALPHABET
from waddlebot.infra import keys
from waddlebot.infra.codec import Envelope
from waddlebot.infra.db.models import Community
from waddlebot.router.modules import LocalModuleClient
from waddlebot.router.pipeline import Incoming
from waddlebot.runtime import Runtime

USAGE = (
    "Usage: !community [rename <name> | link <platform> | join <code> | unlink <place> | "
    "rolelevel <@role> <level|none> | timezone [zone]]"
)


class Person(NamedTuple):
    """Someone on Twitch."""

    user_id: str
    login: str
    roles: tuple[PlatformRole, ...] = ()


BOB = Person("1337", "bob_tw", (PlatformRole.OWNER,))  # the broadcaster of twitch:1337
VIEWER = Person("42", "viewer")
CAROL = Person("77", "carol_tw")
CODE = re.compile(r"community join ([A-Z0-9]{8})\b")


@pytest.fixture
async def rt(runtime: Runtime) -> Runtime:
    """The runtime with the community module (unless the runtime registers it itself)."""
    if not any(client.name == "community" for client in runtime.registry.clients()):
        service = CommunityService(
            runtime.db, runtime.directory, runtime.ports.cache, runtime.audit
        )
        module = build_community_module(service, runtime.identity.find_user)
        runtime.registry.add(LocalModuleClient(module))
    return runtime


def service_of(runtime: Runtime, clock: ManualClock | None = None) -> CommunityService:
    return CommunityService(
        runtime.db, runtime.directory, runtime.ports.cache, runtime.audit, clock
    )


async def on_twitch(
    runtime: Runtime,
    text: str,
    who: Person,
    *,
    entity: str = "twitch:1337",
) -> list[str]:
    """Someone says ``text`` in a Twitch channel; what the bot answered (private answers
    marked like the console marks them)."""
    event = chat_event(text, entity=entity, user_id=who.user_id, login=who.login, roles=who.roles)
    (outcome,) = await runtime.router.process([Incoming(Envelope(event))])
    return [
        ("(private) " if r.visibility is not Visibility.CHANNEL else "") + r.text
        for r in outcome.replies
    ]


def code_in(lines: list[str]) -> str:
    found = [m.group(1) for line in lines if (m := CODE.search(line))]
    assert found, lines
    return found[0]


async def community_of(runtime: Runtime, entity_id: str) -> int:
    return (await runtime.directory.resolve_entity(entity_id, entity_id.split(":")[0])).community_id


async def link_accounts(runtime: Runtime, console_user: str, twitch_id: str, login: str) -> int:
    """One person on the console and on Twitch (through the identity service)."""
    user = await runtime.directory.ensure_identity("console", console_user, login=console_user)
    await runtime.directory.ensure_identity("twitch", twitch_id, login=login, display_name=login)
    pending = await runtime.identity.start_link(user, "twitch", twitch_id)
    assert await runtime.identity.verify("twitch", twitch_id, pending.code) == user
    return user


# -- the whole flow through chat ---------------------------------------------------------------


async def test_link_a_twitch_place_into_the_console_community(rt: Runtime) -> None:
    assert await say(rt, "hello", role="owner") == []  # alice owns the console community
    assert await on_twitch(rt, "hi chat", BOB) == []  # bob owns his Twitch community
    home = await community_of(rt, "console:local")
    twitch_home = await community_of(rt, "twitch:1337")
    assert home != twitch_home
    await link_accounts(rt, "carol", CAROL.user_id, CAROL.login)

    assert await say(rt, "!community rename Alice's place") == [
        'The community is now called "Alice\'s place".'
    ]
    assert await say(rt, "!community") == [
        f'Community "Alice\'s place" (#{home}): console:local. Owner: alice. Prefix: !'
    ]

    lines = await say(rt, "!community link twitch")
    assert len(lines) == 2
    assert lines[0].startswith(
        f'(private) Your code for adding a twitch place to "Alice\'s place" (#{home}): '
    )
    assert lines[1] == (
        "@alice, I sent you a code for adding a twitch place by private message. The owner of "
        "that place types !community join <code> there within 10 minutes."
    )
    code = code_in(lines)
    assert set(code) <= set(CODE_ALPHABET)

    assert await on_twitch(rt, "!community join NOTRIGHT", BOB) == ["@bob_tw, that code is wrong."]
    assert await on_twitch(rt, f"!community join {code}", VIEWER) == [
        "Only the owner of this place can move it into another community."
    ]
    # before the move, carol has no role where Twitch belongs
    assert await on_twitch(rt, "!modonly", CAROL) == [
        "@carol_tw, !modonly is for moderator level and up."
    ]
    assert await on_twitch(rt, f"!community join {code.lower()}", BOB) == [
        f'This place now belongs to "Alice\'s place" (#{home}). Community #{twitch_home} '
        "keeps its data. Commands here start with !"
    ]
    assert await community_of(rt, "twitch:1337") == home

    # Twitch now resolves to the console's community
    assert await on_twitch(rt, "!community", VIEWER) == [
        f'Community "Alice\'s place" (#{home}): console:local, twitch:1337. Owner: alice. Prefix: !'
    ]
    assert await on_twitch(rt, f"!community join {code}", BOB) == [
        "@bob_tw, that code was used already; ask for a new one."
    ]
    # a role given on the console applies on Twitch
    assert await say(rt, "!role add @carol moderator") == ["@carol is now a moderator here."]
    assert await on_twitch(rt, "!modonly", CAROL) == ["hello moderator carol_tw"]
    assert await on_twitch(rt, "!role list", VIEWER) == ["Roles: alice (owner), carol (moderator)"]
    # a prefix set on Twitch applies on the console: the cache entry written by join is right
    assert await on_twitch(rt, "!prefix ?", BOB) == ["Commands here now start with ?, as in ?help"]
    assert await say(rt, "?community") == [
        f'Community "Alice\'s place" (#{home}): console:local, twitch:1337. Owner: alice. Prefix: ?'
    ]
    assert await say(rt, "?prefix !", role="owner") == [
        "Commands here now start with !, as in !help"
    ]

    # the owner of the community sends the Twitch place away again
    assert await say(rt, "!community unlink twitch:9999") == [
        "@alice, twitch:9999 is not a place of this community."
    ]
    unlinked = await say(rt, "!community unlink TWITCH:1337")
    new = await community_of(rt, "twitch:1337")
    assert new not in (home, twitch_home)
    assert unlinked == [
        f'twitch:1337 has left "Alice\'s place" and is a community of its own now (#{new}). '
        '"Alice\'s place" keeps its data.'
    ]
    assert await on_twitch(rt, "!community", VIEWER) == [
        f'Community "twitch:1337" (#{new}): twitch:1337. Owner: none yet. Prefix: !'
    ]
    assert await on_twitch(rt, "!community", BOB) == [  # the broadcaster claims it
        f'Community "twitch:1337" (#{new}): twitch:1337. Owner: bob_tw. Prefix: !'
    ]
    assert await on_twitch(rt, "!role list", VIEWER) == ["Roles: bob_tw (owner)"]
    assert await say(rt, "!community") == [
        f'Community "Alice\'s place" (#{home}): console:local. Owner: alice. Prefix: !'
    ]
    assert await say(rt, "!community unlink console:local") == [
        "@alice, that is the community's only place; there is nothing to unlink it from."
    ]

    await rt.audit.flush()
    actions = [(e.action, e.community_id) for e in await rt.audit.recent(100)]
    for expected in [
        ("community.rename", home),
        ("community.link.start", home),
        ("community.join", home),
        ("community.join", twitch_home),
        ("role.add", home),
        ("community.unlink", home),
        ("community.unlink", new),
    ]:
        assert expected in actions


async def test_the_owner_of_a_joined_place_cannot_send_the_other_places_away(rt: Runtime) -> None:
    await say(rt, "hello", role="owner")
    await on_twitch(rt, "hi", BOB)
    home = await community_of(rt, "console:local")
    code = code_in(await say(rt, "!community link twitch"))
    await on_twitch(rt, f"!community join {code}", BOB)

    # bob is owner level on his own channel, not the community's owner
    assert await on_twitch(rt, "!community unlink console:local", BOB) == [
        "Only the community's owner can unlink its other places; the owner of a place can "
        "unlink that place from inside it."
    ]
    assert await community_of(rt, "console:local") == home
    replies = await on_twitch(rt, "!community unlink twitch:1337", BOB)
    assert replies[0].startswith('twitch:1337 has left "console:local"')
    assert await community_of(rt, "twitch:1337") != home


async def test_an_admin_of_one_community_cannot_change_another(rt: Runtime) -> None:
    await say(rt, "hello", role="owner")  # alice owns A (console:local)
    await say(rt, "hello", user="ada")
    assert await say(rt, "!role add @ada admin") == ["@ada is now an admin here."]
    a = await community_of(rt, "console:local")
    await on_twitch(rt, "hi", BOB)  # bob owns B (twitch:1337)
    b = await community_of(rt, "twitch:1337")

    lines = await on_twitch(rt, "!community link console", BOB)
    assert lines[0].startswith("(private) Your code for adding a console place")
    code = code_in(lines)

    # ada, admin of A, cannot move A's place into B with B's code...
    assert await say(rt, f"!community join {code}", user="ada") == [
        "Only the owner of this place can move it into another community."
    ]
    assert await community_of(rt, "console:local") == a
    # ... nor unlink B's place, nor link places to A
    assert await say(rt, "!community unlink twitch:1337", user="ada") == [
        "Only the owner can unlink places from the community."
    ]
    assert await say(rt, "!community link twitch", user="ada") == [
        "Only the owner can link places to the community."
    ]
    # alice, owner of A, cannot unlink B's place either: it is not one of A's
    assert await say(rt, "!community unlink twitch:1337") == [
        "@alice, twitch:1337 is not a place of this community."
    ]
    assert await community_of(rt, "twitch:1337") == b
    # roles given in A mean nothing in B
    assert await on_twitch(rt, "!role list", VIEWER) == ["Roles: bob_tw (owner)"]

    # the code still works for the owner of a console place (it was not spent)
    (joined,) = await say(rt, f"!community join {code}")
    assert joined.startswith(
        f'This place now belongs to "twitch:1337" (#{b}). Community #{a} keeps its data.'
    )


async def test_rename(rt: Runtime) -> None:
    await say(rt, "hello", role="owner")
    await say(rt, "hello", user="ada")
    await say(rt, "hello", user="mo")
    await say(rt, "!role add @ada admin")
    await say(rt, "!role add @mo moderator")

    assert await say(rt, '!community rename "Waddle   TV"  live', user="ada") == [
        'The community is now called "Waddle TV live".'
    ]
    assert await say(rt, "!community rename Mine now", user="mo") == [
        "Only admins and the owner can rename the community."
    ]
    assert await say(rt, "!community rename", user="ada") == [
        f"{USAGE} (give the new name, e.g. !community rename Waddle TV)"
    ]
    assert await say(rt, f"!community rename {'x' * 201}", user="ada") == [
        f"{USAGE} (a community name is at most 200 characters)"
    ]
    assert await say(rt, "!community dance") == [
        f"{USAGE} (there is no 'dance'; use one of rename, link, join, unlink, rolelevel, timezone)"
    ]
    assert await say(rt, "!community link myspace") == [
        f"{USAGE} (name the platform of the place to add: console, twitch, discord, slack)"
    ]
    community = await community_of(rt, "console:local")
    assert (await service_of(rt).info(community)).name == "Waddle TV live"


async def test_roles_and_who_may_change_them(rt: Runtime) -> None:
    await say(rt, "hello", role="owner")
    for name in ("ada", "mo", "bob"):
        await say(rt, "hello", user=name)
    usage = "Usage: !role list | add <user> <moderator|admin> | remove <user> [moderator|admin]"

    assert await say(rt, "!role list", user="bob") == ["Roles: alice (owner)"]
    assert await say(rt, "!role add @ada admin") == ["@ada is now an admin here."]
    assert await say(rt, "!role add @ada admin") == ["@ada is an admin already."]
    assert await say(rt, "!role add mo mod") == ["@mo is now a moderator here."]
    assert await say(rt, "!modonly", user="mo") == ["hello moderator mo"]

    # a moderator cannot give roles; an admin cannot make (or unmake) admins
    assert await say(rt, "!role add @bob moderator", user="mo") == [
        "Only admins and the owner can give roles."
    ]
    assert await say(rt, "!role remove @bob", user="mo") == [
        "Only admins and the owner can take roles away."
    ]
    assert await say(rt, "!role add @bob admin", user="ada") == ["Only the owner can make admins."]
    assert await say(rt, "!role add @ada moderator", user="ada") == [
        "Only the owner can change an admin's role."
    ]
    assert await say(rt, "!role remove @ada", user="ada") == [
        "Only the owner can take the admin role away."
    ]
    # nobody makes an owner, nor changes the owner's role
    assert await say(rt, "!role add @bob owner", user="ada") == [
        "Nobody can be made owner with !role; ownership is separate."
    ]
    assert await say(rt, "!role add @bob owner") == [
        "Nobody can be made owner with !role; ownership is separate."
    ]
    assert await say(rt, "!role add @alice admin") == [
        "@alice is the owner; that does not change with !role."
    ]
    assert await say(rt, "!role remove @alice", user="ada") == [
        "@alice is the owner; that does not change with !role."
    ]

    assert await say(rt, "!role add @bob moderator", user="ada") == [
        "@bob is now a moderator here."
    ]
    assert await say(rt, "!role list", user="bob") == [
        "Roles: alice (owner), ada (admin), bob (moderator), mo (moderator)"
    ]
    assert await say(rt, "!role remove @mo", user="ada") == ["@mo is no longer a moderator here."]
    assert await say(rt, "!role remove @mo", user="ada") == ["@mo has no role here."]
    assert await say(rt, "!modonly", user="mo") == ["@mo, !modonly is for moderator level and up."]
    assert await say(rt, "!role remove @ada") == ["@ada is no longer an admin here."]
    assert await say(rt, "!role remove @zed") == ["I don't know @zed here yet."]

    assert await say(rt, "!role") == [f"{usage} (say what to do: list, add, remove)"]
    assert await say(rt, "!role add @bob") == [f"{usage} (e.g. !role add @bob moderator)"]
    assert await say(rt, "!role add @bob king") == [f"{usage} (the role is moderator or admin)"]
    assert await say(rt, "!role remove") == [f"{usage} (e.g. !role remove @bob moderator)"]
    assert await say(rt, "!role list everything") == [f"{usage} (list takes nothing after it)"]
    assert await say(rt, "!role give @bob") == [
        f"{usage} (there is no 'give'; use one of list, add, remove)"
    ]

    await rt.audit.flush()
    entries = [e for e in await rt.audit.recent(100) if e.action.startswith("role.")]
    assert [(e.action, e.detail["role"]) for e in reversed(entries)] == [
        ("role.add", "admin"),
        ("role.add", "moderator"),
        ("role.add", "moderator"),
        ("role.remove", "member"),
        ("role.remove", "member"),
    ]


# -- the service, with a controlled clock ------------------------------------------------------


async def two_communities(runtime: Runtime) -> tuple[int, int, int]:
    """The console's community, the Twitch channel's, and the console community's owner."""
    home = (await runtime.directory.resolve_entity("console:local", "console")).community_id
    other = (await runtime.directory.resolve_entity("twitch:1337", "twitch")).community_id
    owner = await runtime.directory.ensure_identity("console", "alice")
    await runtime.directory.ensure_owner(home, owner)
    return home, other, owner


async def test_codes_expire_after_ten_minutes(runtime: Runtime) -> None:
    clock = ManualClock()
    service = service_of(runtime, clock)
    home, _, owner = await two_communities(runtime)
    code = await service.start_link(home, "twitch", owner)
    clock.advance(minutes=10, seconds=1)
    with pytest.raises(CommunityError, match="expired"):
        await service.join(code, "twitch:1337", "twitch", "bob")
    fresh = await service.start_link(home, "twitch", owner)
    clock.advance(minutes=9)
    assert (await service.join(fresh, "twitch:1337", "twitch", "bob"))[0] == home


async def test_codes_are_stored_hashed_and_work_once(runtime: Runtime) -> None:
    service = service_of(runtime, ManualClock())
    home, other, owner = await two_communities(runtime)
    first = await service.start_link(home, "twitch", owner)
    code = await service.start_link(home, "twitch", owner)  # replaces the first
    async with runtime.db.session() as session:
        rows = (await session.scalars(select(LinkCode))).all()
    assert len(rows) == 2 and all(row.purpose == "community" for row in rows)
    assert all(code not in row.code_hash and first not in row.code_hash for row in rows)
    assert hashlib.sha256(code.encode()).hexdigest() in {row.code_hash for row in rows}

    with pytest.raises(CommunityError, match="used already"):
        await service.join(first, "twitch:1337", "twitch", "bob")
    assert await service.join(code, "twitch:1337", "twitch", "bob") == (home, other)
    with pytest.raises(CommunityError, match="used already"):
        await service.join(code, "twitch:1337", "twitch", "bob")
    with pytest.raises(CommunityError, match="wrong"):
        await service.join("ABCDEFGH", "twitch:1337", "twitch", "bob")

    # the router's cache says where the place is now
    cached = await runtime.ports.cache.get(keys.entity_key("twitch:1337"))
    assert cached is not None and orjson.loads(cached) == [home, "!", True]
    # the community the place left is kept, with no places
    async with runtime.db.session() as session:
        assert await session.get(Community, other) is not None
    assert await runtime.directory.entity_ids(other) == []


async def test_a_code_for_another_platform_is_refused(runtime: Runtime) -> None:
    service = service_of(runtime, ManualClock())
    home, other, owner = await two_communities(runtime)
    code = await service.start_link(home, "discord", owner)
    with pytest.raises(CommunityError, match="for adding a discord place; type it there"):
        await service.join(code, "twitch:1337", "twitch", "bob")
    assert await community_of(runtime, "twitch:1337") == other
    # not spent by the refusal
    guild = (await runtime.directory.resolve_entity("discord:9:10", "discord")).community_id
    assert await service.join(code, "discord:9:10", "discord", "dee") == (home, guild)


async def test_joining_the_community_a_place_is_in_is_refused(runtime: Runtime) -> None:
    service = service_of(runtime, ManualClock())
    home, _, owner = await two_communities(runtime)
    code = await service.start_link(home, "console", owner)
    with pytest.raises(CommunityError, match="belongs to that community already"):
        await service.join(code, "console:local", "console", "alice")
    with pytest.raises(CommunityError, match="the platform is one of"):
        await service.start_link(home, "myspace", owner)


async def test_unlink_rules(runtime: Runtime) -> None:
    service = service_of(runtime)
    home, other, owner = await two_communities(runtime)
    with pytest.raises(CommunityError, match="only place"):
        await service.unlink(home, "console:local", "alice")
    with pytest.raises(CommunityError, match="not a place of this community"):
        await service.unlink(home, "twitch:1337", "alice")
    await service.join(
        await service.start_link(home, "twitch", owner), "twitch:1337", "twitch", "b"
    )
    await runtime.directory.set_prefix(home, "?")
    new = await service.unlink(home, "twitch:1337", "alice")
    info = await service.info(new)
    assert (info.name, info.prefix, info.entities, info.owners) == (
        "twitch:1337",
        "?",
        ["twitch:1337"],
        [],
    )
    cached = await runtime.ports.cache.get(keys.entity_key("twitch:1337"))
    assert cached is not None and orjson.loads(cached) == [new, "?", False]
    assert new != other


async def test_the_owner_role_is_not_given_or_taken_here(runtime: Runtime) -> None:
    service = service_of(runtime)
    home, _, owner = await two_communities(runtime)
    bob = await runtime.directory.ensure_identity("console", "bob")
    with pytest.raises(CommunityError, match="nobody can be made owner"):
        await service.set_role(home, bob, "owner", "x")
    with pytest.raises(CommunityError, match="ownership is separate"):
        await service.set_role(home, owner, "admin", "x")
    with pytest.raises(CommunityError, match="ownership is separate"):
        await service.remove_role(home, owner, "x")
    change = await service.set_role(home, bob, "moderator", "x")
    assert (change.previous, change.role, change.changed) == (None, "moderator", True)
    assert await runtime.ports.cache.get(keys.role_key(home, bob)) == b"moderator"
    assert await service.roles(home) == [("alice", "owner"), ("bob", "moderator")]
    removed = await service.remove_role(home, bob, "x")
    assert (removed.previous, removed.role) == ("moderator", "member")
    assert await runtime.ports.cache.get(keys.role_key(home, bob)) == b"member"
    assert await runtime.directory.member_role(home, bob) == "member"


async def test_a_code_moves_one_place_even_when_two_race_for_it(runtime: Runtime) -> None:
    service = service_of(runtime)
    home, _, owner = await two_communities(runtime)
    for channel in ("twitch:1", "twitch:2"):
        await runtime.directory.resolve_entity(channel, "twitch")
    code = await service.start_link(home, "twitch", owner)
    results = await asyncio.gather(
        service.join(code, "twitch:1", "twitch", "a"),
        service.join(code, "twitch:2", "twitch", "b"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["CommunityError", "tuple"]
    places = await runtime.directory.entity_ids(home)
    assert len(places) == 2 and "console:local" in places


async def test_concurrent_unlinks_leave_the_community_a_place(runtime: Runtime) -> None:
    service = service_of(runtime)
    home, _, owner = await two_communities(runtime)
    await service.join(await service.start_link(home, "twitch", owner), "twitch:1337", "twitch", "")
    results = await asyncio.gather(
        service.unlink(home, "console:local", "a"),
        service.unlink(home, "twitch:1337", "b"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["CommunityError", "int"]
    assert len(await runtime.directory.entity_ids(home)) == 1


async def test_role_remove_accepts_the_role_as_the_issue_writes_it(runtime: Runtime) -> None:
    await say(runtime, "!ping", user="rob")
    assert await say(runtime, "!role add rob moderator", role="owner") == [
        "@rob is now a moderator here."
    ]
    assert await say(runtime, "!role remove rob admin", role="owner") == [
        "@rob is not an admin here."
    ]
    assert await say(runtime, "!role remove rob moderator", role="owner") == [
        "@rob is no longer a moderator here."
    ]
