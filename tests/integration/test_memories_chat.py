"""The memories module from chat, embedded (SQLite) and distributed (PostgreSQL and Redis):
every form of ``!quote``, ``!url`` and ``!note`` through the console, who may do what, full-text
search the same on both databases, numbers that are never given twice, the game stored with a
quote on Twitch, and one community never seeing another's memories."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from tests.support.harness import chat_event, say
from waddlebot.core.events import Event, EventType, new_id
from waddlebot.core.permissions import PlatformRole
from waddlebot.infra.codec import Envelope
from waddlebot.infra.db.models import Community
from waddlebot.router.pipeline import Incoming
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

VIP = {"role": "vip", "user": "vera"}
MOD = {"role": "moderator", "user": "mia"}


def today() -> str:
    """The date quotes added now show (the console's community is on UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """More commands per person than the default 20 in 30 seconds: a test types quickly."""
    return settings.model_copy(update={"rate_user_per_30s": 500, "rate_entity_per_30s": 1000})


async def community_of(runtime: Runtime, channel: str = "local") -> int:
    found = await runtime.directory.resolve_entity(f"console:{channel}", "console")
    return found.community_id


async def memory_actions(runtime: Runtime) -> list[str]:
    await runtime.audit.flush()
    kinds = ("quote.", "url.", "note.")
    return [e.action for e in await runtime.audit.recent(limit=200) if e.action.startswith(kinds)]


# --- quotes ------------------------------------------------------------------------------


async def test_every_quote_form(runtime: Runtime) -> None:
    assert await say(runtime, "!quote") == [
        "No quotes yet. Add one with !quote add [@user] <text>."
    ]
    assert await say(runtime, "!quote add @bob I never lose", **VIP) == [
        f'Added quote #1: "I never lose" - bob ({today()})'
    ]
    assert await say(runtime, '!quote add "Pizza is a vegetable"', **MOD) == [
        f'Added quote #2: "Pizza is a vegetable" ({today()})'
    ]
    assert await say(runtime, "!quotes add @Bob  pizza,   again", **VIP) == [
        f'Added quote #3: "pizza,   again" - Bob ({today()})'
    ]
    assert await say(runtime, "!quote 1") == [f'Quote #1: "I never lose" - bob ({today()})']
    assert await say(runtime, "!quote #2") == [f'Quote #2: "Pizza is a vegetable" ({today()})']
    (random,) = await say(runtime, "!quote")
    assert random.startswith(("Quote #1:", "Quote #2:", "Quote #3:"))
    assert await say(runtime, "!quote search PIZZA") == [
        f'Quote #2: "Pizza is a vegetable" ({today()}) (also #3)'
    ]
    assert await say(runtime, "!quote search nothing-like-it") == [
        "No quote matches 'nothing-like-it'."
    ]
    (by_bob,) = await say(runtime, "!quote by @bob")
    assert by_bob.startswith(("Quote #1:", "Quote #3:")) and by_bob.endswith("(2 by bob: #1, #3)")
    assert await say(runtime, "!quote by @nobody") == ["No quotes by nobody yet."]
    assert await say(runtime, "!quote edit 1 @carol I always win", **VIP) == [
        f'Edited quote #1: "I always win" - carol ({today()})'
    ]
    assert await say(runtime, "!quote edit 1 and I mean it", **VIP) == [
        f'Edited quote #1: "and I mean it" - carol ({today()})'
    ]
    assert await say(runtime, "!quote remove 2", **MOD) == ["Removed quote #2."]
    assert await say(runtime, "!quote del 3", **MOD) == ["Removed quote #3."]
    assert await say(runtime, "!quote 2") == ["There is no quote #2 here."]
    assert await say(runtime, "!quote delete 2", **MOD) == ["There is no quote #2 here."]
    assert await say(runtime, "!quote add four", **MOD) == [f'Added quote #4: "four" ({today()})']
    assert await memory_actions(runtime) == [  # newest first
        "quote.add",
        "quote.remove",
        "quote.remove",
        "quote.edit",
        "quote.edit",
        "quote.add",
        "quote.add",
        "quote.add",
    ]


async def test_who_may_add_edit_and_remove_quotes(runtime: Runtime) -> None:
    assert await say(runtime, "!quote add hello") == ["Only VIPs and up can add quotes."]
    await say(runtime, "!quote add @bob one", **VIP)
    await say(runtime, "!quote add @bob two", **MOD)
    # the VIP who added #1 may change it; another VIP may not, nor touch the moderator's #2
    assert await say(runtime, "!quote edit 1 uno", role="vip", user="vic") == [
        "Only moderators and up, and whoever added it, can edit quotes."
    ]
    assert await say(runtime, "!quote remove 2", **VIP) == [
        "Only moderators and up, and whoever added it, can remove quotes."
    ]
    assert await say(runtime, "!quote edit 1 uno", **VIP) == [
        f'Edited quote #1: "uno" - bob ({today()})'
    ]
    assert await say(runtime, "!quote remove 1", **VIP) == ["Removed quote #1."]
    assert await say(runtime, "!quote remove 2", **MOD) == ["Removed quote #2."]


async def test_quote_mistakes_get_the_usage_line(runtime: Runtime) -> None:
    problems = {
        "!quote frob": "there is no 'frob'",
        "!quote add": "what was said?",
        "!quote add @bob": "what was said?",
        f"!quote add {'x' * 401}": "a quote is at most 400 characters (this one has 401)",
        "!quote 3 extra": "just the quote's number",
        "!quote edit": "which quote?",
        "!quote edit 1": "what should quote #1 say?",
        "!quote remove": "which quote? give its number",
        "!quote remove one": "which quote? give its number",
        "!quote search": "search for what?",
        "!quote search -pizza": "say what to look for, not only what to leave out",
        "!quote search !!!": "say what to look for",
        "!quote by bob": "by whom?",
        "!quote by @bob and more": "by whom?",
    }
    for line, problem in problems.items():
        (answer,) = await say(runtime, line, **MOD)
        assert answer.startswith("Usage: !quote [<n>] | add [@user] <text> | edit"), line
        assert problem in answer, (line, answer)


async def test_search_reads_words_phrases_exclusions_and_or_alike_on_both_databases(
    runtime: Runtime,
) -> None:
    community = await community_of(runtime)
    texts = [
        "The quick brown fox",  # 1
        "A brown dog, quick as a fox",  # 2
        "Don't feed the trolls",  # 3
        "Käse und Brot, danke",  # 4
        "dancing all night",  # 5
    ]
    for text in texts:
        await say(runtime, f"!quote add {text}", **MOD)

    async def numbers(words: str) -> list[int]:
        found, total = await runtime.memories.quotes.search(community, words)
        assert total == len(found)
        return [quote.number for quote in found]

    assert await numbers("fox brown") == [1, 2]
    assert await numbers('"quick brown"') == [1]
    assert await numbers("fox -dog") == [1]
    assert await numbers('fox -"brown dog"') == [1]
    assert await numbers("trolls or käse") == [3, 4]
    assert await numbers("don't") == [3]
    assert await numbers("KÄSE") == [4]
    assert await numbers("dance") == []  # whole words, no stemming
    assert await numbers("fox NEAR dog") == []  # no FTS5 syntax: NEAR is a word here
    # the search follows edits and removals (on SQLite, triggers keep quotes_fts in step)
    await say(runtime, "!quote edit 1 a slow turtle", **MOD)
    assert await numbers("turtle") == [1]
    assert await numbers("fox") == [2]
    await say(runtime, "!quote remove 2", **MOD)
    assert await numbers("fox") == []


async def test_game_comes_from_the_stream_on_twitch(runtime: Runtime) -> None:
    async def feed(event: Event) -> list[str]:
        outcomes = await runtime.router.process([Incoming(Envelope(event))])
        return [reply.text for outcome in outcomes for reply in outcome.replies]

    vip = {"user_id": "7", "login": "vee", "roles": (PlatformRole.VIP,)}
    assert await feed(chat_event("!quote add offline and quiet", **vip)) == [
        f'Added quote #1: "offline and quiet" ({today()})'
    ]
    online = Event(
        platform="twitch",
        entity_id="twitch:1337",
        message_id=new_id(),
        type=EventType.STREAM_ONLINE,
    )
    await feed(online)
    await runtime.streams.set_game("twitch:1337", "Minecraft")
    assert await feed(chat_event("!quote add @viewer creepers!", **vip)) == [
        f'Added quote #2: "creepers!" - viewer (Minecraft, {today()})'
    ]


async def test_dates_are_in_the_communitys_time_zone(runtime: Runtime) -> None:
    community = await community_of(runtime)
    async with runtime.db.session() as session:
        await session.execute(
            update(Community)
            .where(Community.id == community)
            .values(settings={"timezone": "Pacific/Kiritimati"})  # UTC+14
        )
    (added,) = await say(runtime, "!quote add late night", **MOD)
    quote = await runtime.memories.quotes.get(community, 1)
    assert quote is not None
    local_day = quote.created_at.astimezone(ZoneInfo("Pacific/Kiritimati"))
    assert added == f'Added quote #1: "late night" ({local_day:%Y-%m-%d})'


# --- URLs --------------------------------------------------------------------------------


async def test_every_url_form(runtime: Runtime) -> None:
    assert await say(runtime, "!url list") == ["No links yet. Add one with !url add <url> [title]."]
    assert await say(runtime, "!url add https://example.com/rules The rules", **VIP) == [
        "Added link #1 The rules: https://example.com/rules"
    ]
    assert await say(runtime, "!url add <docs.example.org/faq>", **MOD) == [
        "Added link #2 https://docs.example.org/faq"
    ]
    assert await say(runtime, "!url add HTTPS://Example.COM/rules again", **MOD) == [
        "That link is saved already, as #1."
    ]
    assert await say(runtime, "!url add example.com/Rules", **MOD) == [
        "Added link #3 https://example.com/Rules"
    ]
    assert await say(runtime, "!url list") == [
        "Links, newest first: #3 https://example.com/Rules, #2 https://docs.example.org/faq, "
        "#1 The rules: https://example.com/rules"
    ]
    assert await say(runtime, "!urls search RULES the") == [
        "Links matching: #1 The rules: https://example.com/rules"
    ]
    assert await say(runtime, "!links search docs") == [
        "Links matching: #2 https://docs.example.org/faq"
    ]
    assert await say(runtime, "!url search 100%") == ["No link matches '100%'."]
    assert await say(runtime, "!url 2") == ["Link #2 https://docs.example.org/faq"]
    assert await say(runtime, "!url remove 3", **VIP) == [
        "Only moderators and up, and whoever added it, can remove links."
    ]
    assert await say(runtime, "!url remove 3", **MOD) == ["Removed link #3."]
    assert await say(runtime, "!url 3") == ["There is no link #3 here."]
    assert await say(runtime, "!url add https://example.com/new", **MOD) == [
        "Added link #4 https://example.com/new"
    ]
    assert await say(runtime, "!url add https://example.com") == ["Only VIPs and up can add links."]
    problems = {
        "!url": "add, list, search, remove",
        "!url add": "which link?",
        "!url add notalink": "'notalink' is not a web address",
        "!url add ftp://example.com/file": "is not a web address",
        f"!url add https://example.com/{'a' * 500}": "a link is at most 500 characters",
        f"!url add https://example.com/x {'t' * 151}": "a title is at most 150 characters",
        "!url list all": "list takes nothing after it",
        "!url search": "search for what?",
        "!url remove": "which link?",
        "!url 2 3": "just the link's number",
    }
    for line, problem in problems.items():
        (answer,) = await say(runtime, line, **MOD)
        assert answer.startswith("Usage: !url <n> | add <url> [title]"), line
        assert problem in answer, (line, answer)
    assert await memory_actions(runtime) == [
        "url.add",
        "url.remove",
        "url.add",
        "url.add",
        "url.add",
    ]


# --- notes -------------------------------------------------------------------------------


async def test_every_note_form(runtime: Runtime) -> None:
    assert await say(runtime, "!note list") == ["No notes yet."]
    assert await say(runtime, "!note add buy a new mic #Gear #todo", **VIP) == [
        "Added note #1 [gear, todo]."
    ]
    assert await say(runtime, "!note add the #1 rule: be kind", **MOD) == ["Added note #2."]
    assert await say(runtime, "!notes add call the venue #todo #todo", **MOD) == [
        "Added note #3 [todo]."
    ]
    assert await say(runtime, "!note list") == [
        "Notes, newest first: #3 call the venue [todo], #2 the #1 rule: be kind, "
        "#1 buy a new mic [gear, todo]"
    ]
    assert await say(runtime, "!note list #TODO") == [
        "Notes labelled #todo, newest first: #3 call the venue [todo], "
        "#1 buy a new mic [gear, todo]"
    ]
    assert await say(runtime, "!note list gear") == [
        "Notes labelled #gear, newest first: #1 buy a new mic [gear, todo]"
    ]
    assert await say(runtime, "!note list #nothing") == ["No notes labelled #nothing."]
    assert await say(runtime, "!note 2") == ["Note #2 the #1 rule: be kind"]
    assert await say(runtime, "!note remove 1", user="someone") == [
        "Only moderators and up, and whoever added it, can remove notes."
    ]
    assert await say(runtime, "!note remove 1", **VIP) == ["Removed note #1."]
    assert await say(runtime, "!note list #gear") == ["No notes labelled #gear."]
    assert await say(runtime, "!note 1") == ["There is no note #1 here."]
    assert await say(runtime, "!note add hi") == ["Only VIPs and up can add notes."]
    eleven = " ".join(f"#l{n}" for n in range(11))
    problems = {
        "!note": "add, list, remove",
        "!note add": "what should the note say?",
        "!note add #todo": "what should the note say?",
        f"!note add too many {eleven}": "a note has at most 10 labels (this one has 11)",
        "!note add bad #a.b": "'#a.b' is not a label",
        f"!note add {'n' * 401}": "a note is at most 400 characters",
        "!note list #a #b": "list takes one #label at most",
        "!note list #-x": "'#-x' is not a label",
        "!note remove 1 2": "just the note's number",
    }
    for line, problem in problems.items():
        (answer,) = await say(runtime, line, **MOD)
        assert answer.startswith("Usage: !note <n> | add <text> [#label ...]"), line
        assert problem in answer, (line, answer)
    assert await memory_actions(runtime) == ["note.remove", "note.add", "note.add", "note.add"]


# --- numbering and isolation -------------------------------------------------------------


async def test_numbers_are_per_community_and_never_given_twice(runtime: Runtime) -> None:
    for n in (1, 2, 3):
        assert await say(runtime, f"!quote add q{n}", **MOD) == [
            f'Added quote #{n}: "q{n}" ({today()})'
        ]
    await say(runtime, "!quote remove 3", **MOD)  # the newest: its number stays used
    await say(runtime, "!quote remove 1", **MOD)
    assert await say(runtime, "!quote add q4", **MOD) == [f'Added quote #4: "q4" ({today()})']
    # another community counts from 1, and has its own links and notes numbers too
    elsewhere = {"role": "moderator", "user": "otto", "channel": "elsewhere"}
    assert await say(runtime, "!quote add other", **elsewhere) == [
        f'Added quote #1: "other" ({today()})'
    ]
    assert await say(runtime, "!url add example.com", **elsewhere) == [
        "Added link #1 https://example.com"
    ]
    assert await say(runtime, "!note add hi", **elsewhere) == ["Added note #1."]
    assert await community_of(runtime, "elsewhere") != await community_of(runtime)


async def test_one_community_never_sees_anothers_memories(runtime: Runtime) -> None:
    await say(runtime, "!quote add @bob secret sauce", **MOD)
    await say(runtime, "!url add https://example.com/private Private", **MOD)
    await say(runtime, "!note add the plan #secret", **MOD)
    other = {"channel": "elsewhere", "user": "eve", "role": "owner"}
    assert await say(runtime, "!quote 1", **other) == ["There is no quote #1 here."]
    assert await say(runtime, "!quote", **other) == [
        "No quotes yet. Add one with !quote add [@user] <text>."
    ]
    assert await say(runtime, "!quote search sauce", **other) == ["No quote matches 'sauce'."]
    assert await say(runtime, "!quote by @bob", **other) == ["No quotes by bob yet."]
    assert await say(runtime, "!quote edit 1 mine now", **other) == ["There is no quote #1 here."]
    assert await say(runtime, "!quote remove 1", **other) == ["There is no quote #1 here."]
    assert await say(runtime, "!url list", **other) == [
        "No links yet. Add one with !url add <url> [title]."
    ]
    assert await say(runtime, "!url search private", **other) == ["No link matches 'private'."]
    assert await say(runtime, "!url remove 1", **other) == ["There is no link #1 here."]
    assert await say(runtime, "!note list #secret", **other) == ["No notes labelled #secret."]
    assert await say(runtime, "!note remove 1", **other) == ["There is no note #1 here."]
    # and the first community still has everything
    assert await say(runtime, "!quote 1") == [f'Quote #1: "secret sauce" - bob ({today()})']
    assert await say(runtime, "!note 1") == ["Note #1 the plan [secret]"]
    assert await say(runtime, "!url 1") == ["Link #1 Private: https://example.com/private"]


async def test_memories_follow_a_person_who_links_their_accounts(runtime: Runtime) -> None:
    await say(runtime, "!quote add @bob a line bob caught", role="vip", user="bob")
    await say(runtime, "!note add bob's note", role="vip", user="bob")
    await say(runtime, "!remind me in 1h bob's private reminder", user="bob")
    assert await say(runtime, "!quote remove 1", user="alice") == [
        "Only moderators and up, and whoever added it, can remove quotes."
    ]
    # alice links bob's account to hers: bob's user becomes alice's
    alice = await runtime.directory.ensure_identity("console", "alice", login="alice")
    pending = await runtime.identity.start_link(alice, "console", "bob")
    assert await runtime.identity.verify("console", "bob", pending.code) == alice
    (listing,) = await say(runtime, "!reminders", user="alice")
    assert listing.startswith("Reminders: #1 ") and "by private message: bob's private" in listing
    assert await say(runtime, "!note remove 1", user="alice") == ["Removed note #1."]
    assert await say(runtime, "!quote remove 1", user="alice") == ["Removed quote #1."]


@pytest.mark.parametrize(
    ("platform", "mention"), [("discord", "<@!555>"), ("slack", "<@U555|bob>")]
)
async def test_a_mention_in_the_platforms_markup_names_the_person(
    runtime: Runtime, platform: str, mention: str
) -> None:
    async def feed(event: Event) -> list[str]:
        outcomes = await runtime.router.process([Incoming(Envelope(event))])
        return [reply.text for outcome in outcomes for reply in outcome.replies]

    place = {"platform": platform, "entity": f"{platform}:9:1"}
    vip = {**place, "user_id": "7", "login": "vee", "roles": (PlatformRole.VIP,)}
    user_id = "U555" if platform == "slack" else "555"
    await feed(chat_event("hello", **place, user_id=user_id, login="bob"))  # bob is known now
    assert await feed(chat_event(f"!quote add {mention} I never lose", **vip)) == [
        f'Added quote #1: "I never lose" - bob ({today()})'
    ]
    (by_bob,) = await feed(chat_event(f"!quote by {mention}", **place))
    assert by_bob.startswith('Quote #1: "I never lose" - bob')


async def test_mention_markup_of_another_platform_is_plain_text_on_twitch(
    runtime: Runtime,
) -> None:
    event = chat_event("!quote add <@555> hi", user_id="7", login="vee", roles=(PlatformRole.VIP,))
    outcomes = await runtime.router.process([Incoming(Envelope(event))])
    assert [reply.text for o in outcomes for reply in o.replies] == [
        f'Added quote #1: "<@555> hi" ({today()})'
    ]
