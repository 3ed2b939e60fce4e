"""The ``labels`` module driven through ``module.handle`` with a real LabelService on SQLite
and a fake ``find_user``: replies word for word, permission and escalation refusals, usage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from waddlebot.core.clock import ManualClock
from waddlebot.core.contract import Caller, Identity, ModuleRequest
from waddlebot.core.events import new_id
from waddlebot.core.language import parse_duration
from waddlebot.core.parser import parse_command
from waddlebot.core.permissions import Level
from waddlebot.features.labels.module import MAX_DURATION, build_labels_module
from waddlebot.features.labels.service import LabelService
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.db import Database
from waddlebot.infra.db.migrate import upgrade_async
from waddlebot.infra.db.models import Community
from waddlebot.sdk import Module

USERS = {"alice": 1, "bob": 2, "carol": 3, "mo": 4, "ada": 5, "owen": 6}
ROLES = {"alice": Level.EVERYONE, "bob": Level.EVERYONE, "carol": Level.EVERYONE}
ROLES |= {"mo": Level.MODERATOR, "ada": Level.ADMIN, "owen": Level.OWNER}


class Chat:
    def __init__(self, module: Module, labels: LabelService, community_id: int) -> None:
        self.module = module
        self.labels = labels
        self.community_id = community_id
        self.lookups: list[tuple[str, str]] = []

    async def say(self, user: str, text: str, *, level: int | None = None) -> list[str]:
        """What the router would show: the replies, or the usage line and the problem."""
        parsed = parse_command(text, "!")
        assert parsed is not None
        (spec,) = self.module.manifest.commands
        request = ModuleRequest(
            session_id=new_id(),
            community_id=self.community_id,
            entity_id="twitch:1",
            platform="twitch",
            message_id=new_id(),
            command=parsed.name,
            prefix=parsed.prefix,
            args=list(parsed.args),
            raw_text=text,
            caller=Caller(
                user_id=USERS.get(user),
                identity=Identity(platform="twitch", user_id=f"tw{user}", login=user),
                level=int(ROLES[user] if level is None else level),
            ),
        )
        response = await self.module.handle(request)
        if response.usage_error:
            return [f"Usage: {spec.usage_line(parsed.prefix)} ({response.usage_error})"]
        return [reply.text for reply in response.replies]


@pytest.fixture
async def db(sqlite_url: str) -> AsyncIterator[Database]:
    await upgrade_async(sqlite_url)
    database = Database(sqlite_url)
    yield database
    await database.close()


@pytest.fixture
async def chat(db: Database) -> Chat:
    async with db.session() as session:
        community = Community(name="Waddle TV")
        session.add(community)
        await session.flush()
        community_id = community.id
    labels = LabelService(db, AuditLog(db), ManualClock())
    lookups: list[tuple[str, str]] = []

    async def find_user(platform: str, name: str) -> int | None:
        lookups.append((platform, name))
        return USERS.get(name.lower())

    chat = Chat(build_labels_module(labels, find_user), labels, community_id)
    chat.lookups = lookups
    return chat


def test_manifest() -> None:
    async def nobody(platform: str, name: str) -> int | None:
        return None

    module = build_labels_module(None, nobody)  # type: ignore[arg-type]
    assert module.name == "labels"
    (spec,) = module.manifest.commands
    assert spec.name == "label" and spec.level == Level.EVERYONE


def test_parse_duration() -> None:
    assert parse_duration("7d", MAX_DURATION) == timedelta(days=7)
    assert parse_duration("12h", MAX_DURATION) == timedelta(hours=12)
    assert parse_duration("30M", MAX_DURATION) == timedelta(minutes=30)
    assert parse_duration("2w", MAX_DURATION) == timedelta(weeks=2)
    assert parse_duration("1d12h", MAX_DURATION) == timedelta(days=1, hours=12)
    for bad in ("", "7", "d", "7s", "-1d", "0d", "1.5h", "7 d", "3651d", "99999999999d"):
        with pytest.raises(ValueError):
            parse_duration(bad, MAX_DURATION)


async def test_create_list_and_delete(chat: Chat) -> None:
    assert await chat.say("alice", "!label list") == ["No labels yet."]
    assert await chat.say("ada", "!label create helper #00FF00 answers questions") == [
        "Created label helper."
    ]
    assert await chat.say("owen", "!label create VIP-Friend vip a friend of the channel") == [
        "Created label vip-friend (grants vip)."
    ]
    assert await chat.say("owen", "!label create boss 1000") == [
        "Created label boss (grants admin)."
    ]
    assert await chat.say("alice", "!label list") == [
        "Labels: boss (grants admin), helper, vip-friend (grants vip)"
    ]
    helper = await chat.labels.get(chat.community_id, "helper")
    assert (helper.colour, helper.description) == ("#00ff00", "answers questions")
    vip = await chat.labels.get(chat.community_id, "vip-friend")
    assert (vip.grants_level, vip.description) == (300, "a friend of the channel")

    assert await chat.say("ada", "!label create helper") == [
        "There is already a label helper here."
    ]
    assert await chat.say("ada", "!label delete helper") == ["Deleted label helper."]
    assert await chat.say("ada", "!label delete helper") == [
        "There is no label helper here. See !label list."
    ]
    assert await chat.say("ada", "!label delete boss") == [
        "boss grants admin; only someone above admin level can delete it."
    ]
    assert await chat.say("owen", "!label delete boss") == ["Deleted label boss."]
    assert await chat.say("bob", "!label list") == ["Labels: vip-friend (grants vip)"]


async def test_only_admins_create_and_delete(chat: Chat) -> None:
    for user in ("alice", "mo"):
        assert await chat.say(user, "!label create helper") == [
            "Only admins and the owner can create labels."
        ]
        assert await chat.say(user, "!label delete helper") == [
            "Only admins and the owner can delete labels."
        ]
    assert await chat.labels.list(chat.community_id) == []


async def test_no_escalation_when_creating(chat: Chat) -> None:
    assert await chat.say("ada", "!label create boss admin") == [
        "boss would grant admin; you can only create labels that grant a level below your own."
    ]
    assert await chat.say("ada", "!label create king owner") == [
        "king would grant owner; you can only create labels that grant a level below your own."
    ]
    assert await chat.say("ada", "!label create trusted mod") == [
        "Created label trusted (grants moderator)."
    ]
    assert [label.name for label in await chat.labels.list(chat.community_id)] == ["trusted"]


async def test_create_usage_errors(chat: Chat) -> None:
    usage = (
        "Usage: !label list | show <user> | create <name> [#colour] [level] [description] | "
        "delete <name> | add <user> <label> [for 7d] | remove <user> <label>"
    )
    assert await chat.say("ada", "!label") == [
        f"{usage} (say what to do: list, show, create, delete, add, remove)"
    ]
    assert await chat.say("ada", "!label dance") == [
        f"{usage} (there is no 'dance'; use one of list, show, create, delete, add, remove)"
    ]
    assert await chat.say("ada", "!label create") == [
        f"{usage} (name the label, e.g. !label create vip-friend)"
    ]
    assert await chat.say("ada", "!label create 'big boss'") == [
        f"{usage} ('big boss' is not a label name: use 1 to 32 lower case letters, digits, - or _)"
    ]
    assert await chat.say("ada", "!label create boss #red") == [
        f"{usage} ('#red' is not a colour: write it as #rrggbb, e.g. #1e90ff)"
    ]
    assert await chat.say("ada", "!label create boss 999") == [
        f"{usage} (999 is not a level; the levels are 100, 150, 250, 300, 500, 1000, 1500)"
    ]
    assert await chat.say("ada", f"!label create boss {'long ' * 41}") == [
        f"{usage} (a description is at most 200 characters)"
    ]
    assert await chat.say("ada", "!label delete") == [
        f"{usage} (which label? e.g. !label delete vip-friend)"
    ]
    assert await chat.say("ada", "!label list all") == [f"{usage} (list takes nothing after it)"]
    assert await chat.labels.list(chat.community_id) == []


async def test_add_show_and_remove(chat: Chat) -> None:
    await chat.say("ada", "!label create helper")
    await chat.say("owen", "!label create vip-friend vip")
    assert await chat.say("alice", "!label show @bob") == ["@bob has no labels."]
    assert await chat.say("mo", "!label add @bob helper") == ["@bob now has helper."]
    assert await chat.say("mo", "!label add Bob vip-friend for 7d") == [
        "@Bob now has vip-friend until 2026-01-08 12:00 UTC."
    ]
    assert await chat.say("carol", "!label show bob") == [
        "@bob has: helper, vip-friend (until 2026-01-08 12:00 UTC)"
    ]
    assert ("twitch", "bob") in chat.lookups and ("twitch", "Bob") in chat.lookups
    assert await chat.labels.granted_level(chat.community_id, USERS["bob"]) == Level.VIP

    assert await chat.say("mo", "!label add @bob vip-friend 12h") == [
        "@bob now has vip-friend until 2026-01-02."
    ]
    chat.labels.clock.advance(hours=12)  # type: ignore[attr-defined]
    assert await chat.say("alice", "!label show @bob") == ["@bob has: helper"]
    assert await chat.labels.granted_level(chat.community_id, USERS["bob"]) is None

    assert await chat.say("mo", "!label remove @bob helper") == ["@bob no longer has helper."]
    assert await chat.say("mo", "!label remove @bob helper") == ["@bob does not have helper."]
    assert await chat.say("mo", "!label remove @bob nothing") == [
        "There is no label nothing here. See !label list."
    ]
    assert await chat.say("mo", "!label add @bob nothing") == [
        "There is no label nothing here. See !label list."
    ]


async def test_expiry_shown_as_a_date_at_midnight(chat: Chat) -> None:
    await chat.say("ada", "!label create helper")
    await chat.say("mo", "!label add @bob helper for 12h")
    assert await chat.say("alice", "!label show @bob") == ["@bob has: helper (until 2026-01-02)"]


async def test_unknown_people(chat: Chat) -> None:
    await chat.say("ada", "!label create helper")
    assert await chat.say("alice", "!label show @zed") == ["I don't know @zed here yet."]
    assert await chat.say("mo", "!label add @zed helper") == ["I don't know @zed here yet."]
    assert await chat.say("mo", "!label remove zed helper") == ["I don't know @zed here yet."]
    assert await chat.labels.labels_of(chat.community_id, "user", "zed") == []


async def test_only_moderators_add_and_remove(chat: Chat) -> None:
    await chat.say("ada", "!label create helper")
    assert await chat.say("alice", "!label add @bob helper") == [
        "Only moderators and up can add labels."
    ]
    assert await chat.say("bob", "!label remove @bob helper", level=Level.VIP) == [
        "Only moderators and up can remove labels."
    ]
    assert await chat.labels.labels_of(chat.community_id, "user", str(USERS["bob"])) == []
    assert chat.lookups == []  # refused before anyone was looked up


async def test_no_escalation_when_adding_or_removing(chat: Chat) -> None:
    await chat.say("owen", "!label create trusted moderator")
    await chat.say("owen", "!label create boss admin")
    assert await chat.say("mo", "!label add @bob trusted") == [
        "trusted grants moderator; only someone above moderator level can add it."
    ]
    assert await chat.say("ada", "!label add @bob trusted") == ["@bob now has trusted."]
    assert await chat.say("ada", "!label add @carol boss") == [
        "boss grants admin; only someone above admin level can add it."
    ]
    assert await chat.say("mo", "!label remove @bob trusted") == [
        "trusted grants moderator; only someone above moderator level can remove it."
    ]
    assert await chat.labels.has_label(chat.community_id, "user", str(USERS["bob"]), "trusted")
    assert await chat.labels.granted_level(chat.community_id, USERS["carol"]) is None


async def test_limit_reached(chat: Chat) -> None:
    for n in range(6):
        await chat.say("ada", f"!label create l{n}")
    for n in range(5):
        await chat.say("mo", f"!label add @alice l{n}")
    assert await chat.say("mo", "!label add @alice l5") == [
        "@alice already has 5 labels (the limit here)."
    ]
    assert await chat.say("mo", "!label add @alice l0 for 1d") == [
        "@alice now has l0 until 2026-01-02 12:00 UTC."
    ]


async def test_add_and_remove_usage_errors(chat: Chat) -> None:
    usage = (
        "Usage: !label list | show <user> | create <name> [#colour] [level] [description] | "
        "delete <name> | add <user> <label> [for 7d] | remove <user> <label>"
    )
    await chat.say("ada", "!label create helper")
    add_hint = "e.g. !label add @bob helper, or ... helper for 7d"
    for text in ("!label add", "!label add @bob", "!label add a b c d", "!label add a b for 1d x"):
        assert await chat.say("mo", text) == [f"{usage} ({add_hint})"], text
    assert await chat.say("mo", "!label add @bob helper for") == [
        f"{usage} (for how long? e.g. for 7d, 12h or 30m)"
    ]
    assert await chat.say("mo", "!label add @bob helper for ever") == [
        f"{usage} ('ever' is not a duration; write it like 7d, 12h or 30m)"
    ]
    assert await chat.say("mo", "!label add @bob 'a b'") == [
        f"{usage} ('a b' is not a label name: use 1 to 32 lower case letters, digits, - or _)"
    ]
    assert await chat.say("mo", "!label add @ helper") == [
        f"{usage} (who? name someone, like @bob)"
    ]
    assert await chat.say("mo", "!label remove @bob") == [
        f"{usage} (e.g. !label remove @bob helper)"
    ]
    assert await chat.say("alice", "!label show") == [
        f"{usage} (whose labels? e.g. !label show @bob)"
    ]
    assert await chat.labels.labels_of(chat.community_id, "user", str(USERS["bob"])) == []


async def test_actions_are_audited_with_the_caller(chat: Chat) -> None:
    await chat.say("ada", "!label create helper")
    await chat.say("mo", "!label add @bob helper")
    await chat.say("mo", "!label remove @bob helper")
    audit = chat.labels.audit
    await audit.flush()
    rows = list(reversed(await audit.recent(10)))
    assert [(r.action, r.actor, r.target) for r in rows] == [
        ("label.create", str(USERS["ada"]), "label:helper"),
        ("label.apply", str(USERS["mo"]), f"user:{USERS['bob']}"),
        ("label.remove", str(USERS["mo"]), f"user:{USERS['bob']}"),
    ]


async def test_long_lists_are_cut_short(chat: Chat, db: Database) -> None:
    for n in range(40):
        await chat.labels.create(chat.community_id, f"a-rather-long-label-name-{n:02}")
    (reply,) = await chat.say("alice", "!label list")
    assert reply.startswith("Labels: a-rather-long-label-name-00, ")
    assert reply.endswith(" ... and 27 more")
    assert len(reply) < 450
