"""Linux-style aliases: ``!alias hi='!so $1'`` makes ``!hi bob`` run ``!so bob``.

An alias is stored as the command line it runs, without the community's prefix (so it keeps
working when the prefix changes); ``#`` lines (serverless commands) keep their ``#``. The
router looks up every ``!name`` it does not know (and every name a forced alias shadows) in
an index of the community's aliases kept in the cache (``infra/name_index.py``), so an
alias costs no database read; a change reaches every process's cache at once.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select

from waddlebot.core.errors import WaddleError
from waddlebot.core.parser import SERVERLESS_PREFIX, parse_command, quote_arg
from waddlebot.features.alias.models import Alias
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.db.engine import Database
from waddlebot.infra.directory import lock_community
from waddlebot.infra.name_index import CommunityIndex
from waddlebot.infra.ports import Cache

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MAX_EXPANSION = 400
MAX_ALIASES = 200  # per community
_PLACEHOLDER = re.compile(r"\$(?:([1-9])|(@)|(user)\b)")


class AliasError(WaddleError):
    """Something the person asking can fix about aliases."""


@dataclass(frozen=True, slots=True)
class AliasInfo:
    name: str
    expansion: str  # without the community prefix; "#name ..." for serverless commands
    forced: bool
    created_by: str = ""

    def shown(self, prefix: str) -> str:
        """The command line as the community types it."""
        if self.expansion.startswith(SERVERLESS_PREFIX):
            return self.expansion
        return f"{prefix}{self.expansion}"


def check_alias_name(name: str) -> str:
    normal = name.strip().lower().removeprefix("!")
    if not NAME_PATTERN.fullmatch(normal):
        raise AliasError(
            f"{name!r} is not an alias name: use a letter, then up to 31 lower case letters, "
            "digits, - or _"
        )
    return normal


def normalise_expansion(text: str, prefix: str) -> str:
    """The command line an alias runs, checked, without the community prefix."""
    line = text.strip()
    if len(line) > MAX_EXPANSION:
        raise AliasError(f"an alias runs at most {MAX_EXPANSION} characters")
    if line.startswith(SERVERLESS_PREFIX):
        body = line
    elif prefix and line.startswith(prefix):
        body = line[len(prefix) :]
    elif line.startswith("!"):  # people type '!' out of habit where the prefix is another
        body = line[1:]
    else:
        raise AliasError(f"an alias runs a command: start it with {prefix}, e.g. {prefix}so $1")
    parsed = parse_command(body if body.startswith(SERVERLESS_PREFIX) else f"!{body}")
    if parsed is None:
        raise AliasError(f"{line!r} is not a command line")
    return (
        body if body.startswith(SERVERLESS_PREFIX) else f"{parsed.name}{body[len(parsed.name) :]}"
    )


def target_name(expansion: str) -> str:
    """The name of the command an expansion runs (lower case, no prefix)."""
    parsed = parse_command(
        expansion if expansion.startswith(SERVERLESS_PREFIX) else f"!{expansion}"
    )
    return parsed.name if parsed else ""


def expand(expansion: str, args: Sequence[str], user: str) -> str:
    """Fill in ``$1``…``$9``, ``$@`` and ``$user``; with no positional placeholder the
    arguments are appended, as a shell does. An argument the parser would not read back as
    itself (spaces, quotes of its own: ``'x'`` typed as ``"'x'"``) is quoted again, so it
    reaches the command that runs as the one argument that was typed."""
    quoted = [quote_arg(arg) for arg in args]
    positional = False

    def fill(match: re.Match[str]) -> str:
        nonlocal positional
        digit, every, _ = match.groups()
        if digit:
            positional = True
            index = int(digit) - 1
            return quoted[index] if index < len(quoted) else ""
        if every:
            positional = True
            return " ".join(quoted)
        return user

    line = _PLACEHOLDER.sub(fill, expansion).strip()
    if not positional and quoted:
        line = f"{line} {' '.join(quoted)}"
    return line


class AliasService:
    def __init__(
        self, db: Database, cache: Cache, audit: AuditLog, *, feed: ChangeFeed | None = None
    ) -> None:
        self.db = db
        self.audit = audit
        self._changes = audit.changes("alias")
        self._index = CommunityIndex(cache, "aliases", self._entries, feed=feed)

    # ----- the index the router reads ------------------------------------------------------

    async def index(self, community_ids: Collection[int]) -> dict[int, dict[str, AliasInfo]]:
        """Every alias of each community, from the cache (refilled from the database)."""
        found = await self._index.get(community_ids)
        return {
            community_id: {
                name: AliasInfo(name, expansion, forced)
                for name, (expansion, forced) in entries.items()
            }
            for community_id, entries in found.items()
        }

    async def lookup(self, community_id: int, name: str) -> AliasInfo | None:
        return (await self.index([community_id]))[community_id].get(name)

    async def _entries(self, community_id: int) -> dict[str, Any]:
        return {a.name: [a.expansion, a.forced] for a in await self.list(community_id)}

    # ----- definitions ---------------------------------------------------------------------

    async def define(
        self, community_id: int, name: str, expansion: str, *, forced: bool, actor: str
    ) -> bool:
        """Create or replace an alias (as ``alias`` in a shell does); True when it is new.
        The caller checks names against built-in and custom commands first."""
        name = check_alias_name(name)
        if len(expansion) > MAX_EXPANSION:
            raise AliasError(f"an alias runs at most {MAX_EXPANSION} characters")
        async with self.db.session() as session:
            await lock_community(session, community_id)
            row = await session.scalar(
                select(Alias).where(Alias.community_id == community_id, Alias.name == name)
            )
            created = row is None
            if row is None:
                count = await session.scalar(
                    select(func.count()).where(Alias.community_id == community_id)
                )
                if (count or 0) >= MAX_ALIASES:
                    raise AliasError(f"this community already has {MAX_ALIASES} aliases")
                session.add(
                    Alias(
                        community_id=community_id,
                        name=name,
                        expansion=expansion,
                        forced=forced,
                        created_by=actor,
                    )
                )
            else:
                row.expansion, row.forced = expansion, forced
        await self._index.refresh(community_id)
        self._changes.record(
            "alias.define", actor, community_id, name, {"runs": expansion, "forced": forced}
        )
        return created

    async def remove(self, community_id: int, name: str, *, actor: str) -> bool:
        """Remove an alias; False when there was none of that name."""
        name = check_alias_name(name)
        async with self.db.session() as session:
            result: Any = await session.execute(
                delete(Alias).where(Alias.community_id == community_id, Alias.name == name)
            )
        if not result.rowcount:
            return False
        await self._index.refresh(community_id)
        self._changes.record("alias.remove", actor, community_id, name, None)
        return True

    async def list(self, community_id: int) -> list[AliasInfo]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Alias).where(Alias.community_id == community_id).order_by(Alias.name)
            )
            return [AliasInfo(r.name, r.expansion, r.forced, r.created_by) for r in rows]
