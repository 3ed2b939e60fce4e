"""Full-text search of quotes, the same on both databases.

What people type is read once, here, into a :class:`SearchQuery`: words (all must appear),
``"a phrase"`` (these words in this order), ``-word`` or ``-"a phrase"`` (must not appear)
and ``or`` between alternatives. Words match whole and regardless of case, with no stemming
(``dance`` does not find ``dancing``), in any language.

The parsed query is then written for each database: PostgreSQL gets it back as
``websearch_to_tsquery`` syntax, matched against ``to_tsvector('simple', text)`` (the GIN index
``ix_quotes_search``); SQLite gets an FTS5 ``MATCH`` expression over ``quotes_fts``. Reading it
ourselves first keeps the two in agreement, and keeps FTS5's own query syntax (``NEAR``,
``col:``, ``*``) out of reach of chat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Integer, func, literal_column, text

from waddlebot.features.memories.common import MemoriesError
from waddlebot.features.memories.models import Quote

MAX_QUERY = 200
MAX_TERMS = 16
_QUOTES = '"“”„'  # the curly quotes people type are quotes here too


@dataclass(frozen=True, slots=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase
    negated: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Alternatives (``or``), each a list of terms that must all hold."""

    alternatives: tuple[tuple[Term, ...], ...] = field(default_factory=tuple)

    def websearch(self) -> str:
        """The query in PostgreSQL's ``websearch_to_tsquery`` syntax."""
        return " or ".join(" ".join(map(_websearch, terms)) for terms in self.alternatives)

    def fts5(self) -> str:
        """The query as an SQLite FTS5 expression: each word or phrase a quoted string."""
        rendered = []
        for terms in self.alternatives:
            wanted = " AND ".join(_fts5(t) for t in terms if not t.negated)
            unwanted = "".join(f" NOT {_fts5(t)}" for t in terms if t.negated)
            rendered.append(f"({wanted}{unwanted})")
        return " OR ".join(rendered)


def _websearch(term: Term) -> str:
    shown = term.words[0] if len(term.words) == 1 else f'"{" ".join(term.words)}"'
    return f"-{shown}" if term.negated else shown


def _fts5(term: Term) -> str:
    return '"' + " ".join(term.words) + '"'


def parse_search(typed: str) -> SearchQuery:
    """Read a search; MemoriesError when there is nothing to look for."""
    if len(typed) > MAX_QUERY:
        raise MemoriesError(f"a search is at most {MAX_QUERY} characters")
    alternatives: list[tuple[Term, ...]] = []
    current: list[Term] = []
    for token, quoted, negated in _tokens(typed):
        if not quoted and not negated and token.lower() == "or":
            if current:
                alternatives.append(tuple(current))
            current = []
            continue
        words = tuple(_words(token))
        if words:
            current.append(Term(words, negated))
    if current:
        alternatives.append(tuple(current))
    if not alternatives:
        raise MemoriesError("say what to look for, e.g. a word the quote has")
    if sum(len(terms) for terms in alternatives) > MAX_TERMS:
        raise MemoriesError(f"a search has at most {MAX_TERMS} words and phrases")
    if any(all(term.negated for term in terms) for terms in alternatives):
        raise MemoriesError("say what to look for, not only what to leave out")
    return SearchQuery(tuple(alternatives))


def _tokens(typed: str) -> list[tuple[str, bool, bool]]:
    """(text, was quoted, was negated) for each word or quoted phrase."""
    tokens: list[tuple[str, bool, bool]] = []
    i, n = 0, len(typed)
    while i < n:
        if typed[i].isspace():
            i += 1
            continue
        negated = typed[i] == "-"
        start = i + 1 if negated else i
        if start < n and typed[start] in _QUOTES:
            end = start + 1
            while end < n and typed[end] not in _QUOTES:
                end += 1
            tokens.append((typed[start + 1 : end], True, negated))
            i = end + 1
            continue
        end = start
        while end < n and not typed[end].isspace() and typed[end] not in _QUOTES:
            end += 1
        tokens.append((typed[start:end], False, negated))
        i = max(end, start + 1)
    return tokens


def _words(token: str) -> list[str]:
    """The words of a token, as both databases split them: runs of letters and digits
    (``don't`` is ``don`` ``t``; a lone ``!`` is nothing)."""
    words: list[str] = []
    current: list[str] = []
    for char in token:
        if char.isalnum():
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def matching(query: SearchQuery, dialect: str) -> ColumnElement[bool]:
    """The condition selecting the quotes that match, for ``select(Quote).where(...)``."""
    if dialect == "postgresql":
        config: ColumnElement[Any] = literal_column("'simple'::regconfig")
        vector = func.to_tsvector(config, Quote.text)
        return vector.op("@@")(func.websearch_to_tsquery(config, query.websearch()))
    hits = (
        text("SELECT rowid FROM quotes_fts WHERE quotes_fts MATCH :fts_query")
        .bindparams(fts_query=query.fts5())
        .columns(rowid=Integer)
    )
    return Quote.id.in_(hits)
