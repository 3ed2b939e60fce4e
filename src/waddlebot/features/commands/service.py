"""Custom commands: ``!name`` commands a community defines at run time, and named counters.

Counting is atomic in the database: ``$(count)`` is one ``UPDATE ... SET count = count + 1
... RETURNING count`` and a named counter one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``,
so concurrent uses in any number of processes each get their own, exact value.

Cooldowns live in the cache (Redis in the distributed mode), not in the database: one
set-if-absent key per cooldown, expiring with it, so every router process sees the same
cooldowns and a write per use costs no database round trip. A restart of an embedded bot
forgets them, which is harmless.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from waddlebot.core.errors import Conflict, Missing, Taken, WaddleError
from waddlebot.core.permissions import Level
from waddlebot.features.commands.models import Counter, CustomCommand
from waddlebot.infra import keys
from waddlebot.infra.audit import AuditLog
from waddlebot.infra.changes import ChangeFeed
from waddlebot.infra.db.engine import Database
from waddlebot.infra.directory import lock_community
from waddlebot.infra.name_index import CommunityIndex
from waddlebot.infra.ports import Cache

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
COUNTER_PATTERN = re.compile(r"^[a-z0-9_-]{1,32}$")
MAX_RESPONSE = 2000
MAX_ALIAS = 200
MAX_COOLDOWN = 86400  # seconds
MAX_COMMANDS = 500  # per community
MAX_DELTA = 1_000_000  # one counter step
MAX_COUNT = 2**31 - 1  # a use count (a 32-bit column)


class CustomCommandError(WaddleError):
    """Something the person asking can fix about custom commands."""


class UnknownCommand(Missing, CustomCommandError):
    noun = "custom command"
    mark = "!"


class DuplicateCommand(Taken, CustomCommandError):
    noun = "custom command"
    mark = "!"


class ReservedName(Conflict, CustomCommandError):
    def __init__(self, name: str) -> None:
        super().__init__(f"!{name} is a built-in command; pick another name")
        self.name = name


@dataclass(frozen=True, slots=True)
class CommandInfo:
    id: int
    community_id: int
    name: str
    response: str
    level: int
    cooldown: int
    user_cooldown: int
    alias_of: str
    enabled: bool
    count: int
    created_by: str


@dataclass(frozen=True, slots=True)
class Changes:
    """The fields of an add or edit; None leaves a field as it is (or at its default)."""

    response: str | None = None
    level: int | None = None
    cooldown: int | None = None
    user_cooldown: int | None = None
    alias_of: str | None = None
    enabled: bool | None = None


def check_name(name: str) -> str:
    """The command name without ``!``, lower-cased; CustomCommandError when malformed."""
    normal = name.strip().lower().removeprefix("!")
    if not NAME_PATTERN.fullmatch(normal):
        raise CustomCommandError(
            f"{name!r} is not a command name: use 1 to 32 lower case letters, digits, - or _"
        )
    return normal


def check_counter(name: str) -> str:
    normal = name.strip().lower()
    if not COUNTER_PATTERN.fullmatch(normal):
        raise CustomCommandError(
            f"{name!r} is not a counter name: use 1 to 32 lower case letters, digits, - or _"
        )
    return normal


def _check_changes(changes: Changes) -> None:
    if changes.response is not None and len(changes.response) > MAX_RESPONSE:
        raise CustomCommandError(f"a response is at most {MAX_RESPONSE} characters")
    if changes.alias_of is not None and len(changes.alias_of) > MAX_ALIAS:
        raise CustomCommandError(f"an alias is at most {MAX_ALIAS} characters")
    if changes.level is not None and changes.level not in {int(level) for level in Level}:
        choices = ", ".join(f"{level.label} ({int(level)})" for level in Level)
        raise CustomCommandError(f"{changes.level} is not a level; use one of: {choices}")
    for seconds in (changes.cooldown, changes.user_cooldown):
        if seconds is not None and not 0 <= seconds <= MAX_COOLDOWN:
            raise CustomCommandError(f"a cooldown is 0 to {MAX_COOLDOWN} seconds")


def _info(row: CustomCommand) -> CommandInfo:
    return CommandInfo(
        id=row.id,
        community_id=row.community_id,
        name=row.name,
        response=row.response,
        level=row.level,
        cooldown=row.cooldown,
        user_cooldown=row.user_cooldown,
        alias_of=row.alias_of,
        enabled=row.enabled,
        count=row.count,
        created_by=row.created_by,
    )


class CustomCommandService:
    def __init__(
        self, db: Database, audit: AuditLog, cache: Cache, *, feed: ChangeFeed | None = None
    ) -> None:
        self.db = db
        self.audit = audit
        self._changes = audit.changes("command")
        self._cache = cache
        self._names = CommunityIndex(cache, "custom_commands", self._names_of, feed=feed)

    # ----- definitions --------------------------------------------------------------------

    async def add(
        self,
        community_id: int,
        name: str,
        changes: Changes,
        *,
        actor: str = "",
        reserved: Collection[str] = (),
        audited: bool = True,
    ) -> CommandInfo:
        """Define a command; ``audited=False`` leaves the audit row to the caller (an import
        writes one row for all its commands)."""
        name = check_name(name)
        if name in reserved:
            raise ReservedName(name)
        _check_changes(changes)
        if not (changes.response or changes.alias_of):
            raise CustomCommandError("say what the command answers (or alias it with -a=!other)")
        async with self.db.session() as session:
            await lock_community(session, community_id)
            taken = await session.scalar(
                select(CustomCommand.id).where(
                    CustomCommand.community_id == community_id, CustomCommand.name == name
                )
            )
            if taken is not None:
                raise DuplicateCommand(name)
            defined = await session.scalar(
                select(CustomCommand.id)
                .where(CustomCommand.community_id == community_id)
                .offset(MAX_COMMANDS - 1)
                .limit(1)
            )
            if defined is not None:
                raise CustomCommandError(f"this community already has {MAX_COMMANDS} commands")
            row = CustomCommand(
                community_id=community_id,
                name=name,
                response=changes.response or "",
                level=int(Level.EVERYONE) if changes.level is None else changes.level,
                cooldown=changes.cooldown or 0,
                user_cooldown=changes.user_cooldown or 0,
                alias_of=changes.alias_of or "",
                enabled=True if changes.enabled is None else changes.enabled,
                count=0,
                created_by=actor,
            )
            session.add(row)
            await session.flush()
            info = _info(row)
        await self._names.refresh(community_id)
        if audited:
            self._changes.record("custom_command.add", actor, community_id, name, _fields(changes))
        return info

    async def edit(
        self,
        community_id: int,
        name: str,
        changes: Changes,
        *,
        actor: str = "",
        audited: bool = True,
    ) -> CommandInfo:
        name = check_name(name)
        _check_changes(changes)
        values: dict[str, Any] = {
            key: value
            for key, value in (
                ("response", changes.response),
                ("level", changes.level),
                ("cooldown", changes.cooldown),
                ("user_cooldown", changes.user_cooldown),
                ("alias_of", changes.alias_of),
                ("enabled", changes.enabled),
            )
            if value is not None
        }
        if not values:
            raise CustomCommandError("nothing to change: give a new response or options")
        async with self.db.session() as session:
            row = await session.scalar(
                select(CustomCommand).where(
                    CustomCommand.community_id == community_id, CustomCommand.name == name
                )
            )
            if row is None:
                raise UnknownCommand(name)
            for key, value in values.items():
                setattr(row, key, value)
            if not (row.response or row.alias_of):
                raise CustomCommandError("a command needs a response or an alias")
            await session.flush()
            info = _info(row)
        if audited:
            self._changes.record("custom_command.edit", actor, community_id, name, _fields(changes))
        return info

    async def delete(self, community_id: int, name: str, *, actor: str = "") -> None:
        name = check_name(name)
        async with self.db.session() as session:
            result: Any = await session.execute(
                delete(CustomCommand).where(
                    CustomCommand.community_id == community_id, CustomCommand.name == name
                )
            )
            if not result.rowcount:
                raise UnknownCommand(name)
        await self._names.refresh(community_id)
        self._changes.record("custom_command.delete", actor, community_id, name)

    async def names(self, community_ids: Collection[int]) -> dict[int, set[str]]:
        """The custom command names of each community, from the cached index."""
        found = await self._names.get(community_ids)
        return {community_id: set(names) for community_id, names in found.items()}

    async def known(self, community_id: int, name: str) -> bool:
        """Whether the community has a command of that name, from the cached index: a word
        after a ``!`` that is not a command (another bot's) costs no database read."""
        return name.lower() in (await self._names.get([community_id]))[community_id]

    async def _names_of(self, community_id: int) -> dict[str, Any]:
        async with self.db.session() as session:
            names = await session.scalars(
                select(CustomCommand.name).where(CustomCommand.community_id == community_id)
            )
            return dict.fromkeys(names, 1)

    async def get(self, community_id: int, name: str) -> CommandInfo | None:
        try:
            name = check_name(name)
        except CustomCommandError:
            return None
        async with self.db.session() as session:
            row = await session.scalar(
                select(CustomCommand).where(
                    CustomCommand.community_id == community_id, CustomCommand.name == name
                )
            )
            return None if row is None else _info(row)

    async def list(self, community_id: int) -> list[CommandInfo]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(CustomCommand)
                .where(CustomCommand.community_id == community_id)
                .order_by(CustomCommand.name)
            )
            return [_info(row) for row in rows]

    # ----- counting -----------------------------------------------------------------------

    async def increment(self, community_id: int, name: str) -> int:
        """Add one to a command's use count and return the new count (atomic)."""
        name = check_name(name)
        async with self.db.session() as session:
            value = await session.scalar(
                update(CustomCommand)
                .where(CustomCommand.community_id == community_id, CustomCommand.name == name)
                .values(count=CustomCommand.count + 1)
                .returning(CustomCommand.count)
                .execution_options(synchronize_session=False)
            )
        if value is None:
            raise UnknownCommand(name)
        return int(value)

    async def set_count(self, community_id: int, name: str, value: int) -> None:
        """Set a command's use count (an import carries the count over from the old bot)."""
        name = check_name(name)
        if not 0 <= value <= MAX_COUNT:
            raise CustomCommandError(f"a count is a whole number from 0 to {MAX_COUNT}")
        async with self.db.session() as session:
            result: Any = await session.execute(
                update(CustomCommand)
                .where(CustomCommand.community_id == community_id, CustomCommand.name == name)
                .values(count=value)
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:
                raise UnknownCommand(name)

    async def add_to_counter(self, community_id: int, counter: str, delta: int = 1) -> int:
        """Add ``delta`` to a named counter (created at 0 first) and return the new value."""
        counter = check_counter(counter)
        if abs(delta) > MAX_DELTA:
            raise CustomCommandError(f"a counter moves by at most {MAX_DELTA} at once")
        insert: Any = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        statement = insert(Counter).values(community_id=community_id, name=counter, value=delta)
        statement = statement.on_conflict_do_update(
            index_elements=[Counter.community_id, Counter.name],
            set_={"value": Counter.value + statement.excluded.value},
        ).returning(Counter.value)
        async with self.db.session() as session:
            value = await session.scalar(statement)
        return int(value or 0)

    async def get_counter(self, community_id: int, counter: str) -> int:
        counter = check_counter(counter)
        async with self.db.session() as session:
            value = await session.scalar(
                select(Counter.value).where(
                    Counter.community_id == community_id, Counter.name == counter
                )
            )
        return int(value or 0)

    # ----- cooldowns and notices (in the cache, see the module docstring) -----------------

    async def first_refusal(self, entity_id: str, user_id: str) -> bool:
        """Whether to tell someone they may not use a command: once in a while per place, as
        the router does for built-in commands, so a refused command cannot flood the chat."""
        key = keys.notice_key(entity_id, user_id, "deny")
        return await self._cache.add(key, b"1", keys.DENIAL_NOTICE_SECONDS)

    async def take_cooldown(self, command: CommandInfo, user: str) -> bool:
        """True when ``user`` may use the command now (and starts its cooldowns); False while
        the global or the user's cooldown runs. Each cooldown is one set-if-absent key with
        the cooldown as its lifetime, so every router process sees the same ones."""
        place = f"cooldown:{command.community_id}:{command.name}"
        taken: list[str] = []
        for key, seconds in ((f"{place}:{user}", command.user_cooldown), (place, command.cooldown)):
            if seconds <= 0:
                continue
            if not await self._cache.add(key, b"1", seconds):
                if taken:  # the user's cooldown was started for a use that is not happening
                    await self._cache.delete(*taken)
                return False
            taken.append(key)
        return True


def _fields(changes: Changes) -> dict[str, Any]:
    """The fields an add or edit set, for the audit trail."""
    given = {
        "response": changes.response,
        "level": changes.level,
        "cooldown": changes.cooldown,
        "user_cooldown": changes.user_cooldown,
        "alias_of": changes.alias_of,
        "enabled": changes.enabled,
    }
    return {key: value for key, value in given.items() if value is not None}
