"""Splitting long replies at word boundaries (Twitch 500, Discord 2000 characters), and a split
message sent again after a failure half way going on where it stopped."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waddlebot.platforms.split import SentParts, split_message

# no separators (Z*) or control characters (Cc, where \t and \n are): words have no whitespace
WORD = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Z", "Cc"]), min_size=1, max_size=30
)
GAP = st.sampled_from([" ", "  ", "\n", " \n ", "\t"])


@st.composite
def texts(draw: st.DrawFn, words: st.SearchStrategy[str] = WORD) -> str:
    parts = draw(st.lists(words, max_size=40))
    out = draw(st.sampled_from(["", " ", "\n"]))
    for i, word in enumerate(parts):
        out += (draw(GAP) if i else "") + word
    return out + draw(st.sampled_from(["", " ", "\n "]))


@given(texts(), st.integers(1, 80))
def test_chunks_fit_and_are_never_empty_or_padded(text: str, limit: int) -> None:
    for chunk in split_message(text, limit):
        assert 0 < len(chunk) <= limit
        assert chunk == chunk.strip()


@given(texts(), st.integers(1, 80))
def test_no_character_is_lost_or_reordered(text: str, limit: int) -> None:
    chunks = split_message(text, limit)
    assert "".join("".join(c.split()) for c in chunks) == "".join(text.split())


@given(texts(), st.integers(30, 80))
def test_words_that_fit_are_never_cut(text: str, limit: int) -> None:
    """Every word here is at most 30 characters, so none may be cut."""
    chunks = split_message(text, limit)
    assert " ".join(chunks).split() == text.split()
    assert [w for c in chunks for w in c.split()] == text.split()


@given(st.lists(WORD, min_size=1, max_size=40), st.integers(30, 80))
def test_each_chunk_takes_as_many_words_as_fit(words: list[str], limit: int) -> None:
    chunks = split_message(" ".join(words), limit)
    for chunk, following in itertools.pairwise(chunks):
        assert len(chunk) + 1 + len(following.split()[0]) > limit


@given(st.text(alphabet=" \t\n\r", max_size=20), st.integers(1, 10))
def test_whitespace_only_gives_nothing(text: str, limit: int) -> None:
    assert split_message(text, limit) == []


def test_short_text_is_one_chunk_with_its_inner_whitespace() -> None:
    assert split_message("  hello\nworld  ", 500) == ["hello\nworld"]


def test_splits_on_the_last_space_that_fits() -> None:
    assert split_message("aaa bbb ccc", 7) == ["aaa bbb", "ccc"]
    assert split_message("aaa bbb ccc", 6) == ["aaa", "bbb", "ccc"]


def test_a_word_longer_than_the_limit_is_hard_cut() -> None:
    assert split_message("hi abcdefghij yo", 4) == ["hi", "abcd", "efgh", "ij", "yo"]


def test_twitch_sized_reply() -> None:
    words = [f"word{i:03d}" for i in range(150)]  # 7 characters each: 1199 with spaces
    chunks = split_message(" ".join(words), 500)
    assert len(chunks) == 3
    assert all(len(c) <= 500 for c in chunks)
    assert " ".join(chunks) == " ".join(words)


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        split_message("text", 0)


async def test_a_message_retried_after_a_failure_does_not_repeat_its_first_parts() -> None:
    sent: list[str] = []
    fail_at = {"two"}

    async def send_one(_: int, part: str) -> None:
        if part in fail_at:
            fail_at.discard(part)
            raise ConnectionError("lost")
        sent.append(part)

    parts, log = ["one", "two", "three"], SentParts()
    with pytest.raises(ConnectionError):
        await log.send("m1", parts, send_one)
    await log.send("m1", parts, send_one)  # the bus hands it out again
    assert sent == ["one", "two", "three"]
    await log.send("m2", parts, send_one)  # another message starts from its beginning
    assert sent[3:] == ["one", "two", "three"]


async def test_only_so_many_messages_are_remembered() -> None:
    log = SentParts(remembered=2)
    sent: list[str] = []

    async def send_one(_: int, part: str) -> None:
        sent.append(part)

    for key in ("a", "b", "c"):
        await log.send(key, ["x"], send_one)
    await log.send("a", ["x"], send_one)  # forgotten: sent again
    await log.send("c", ["x"], send_one)  # remembered: not sent again
    assert sent == ["x"] * 4
