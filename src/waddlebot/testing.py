"""Drive a module from a test, with no database, bus or router::

    from waddlebot.testing import ModuleChat

    async def test_kudos() -> None:
        chat = ModuleChat(module)
        assert await chat.say("!kudos bob", as_="mia") == ["mia gives kudos to bob!"]

:meth:`ModuleChat.say` reads a chat line as the router does (the prefix, quoting, aliases),
refuses a caller below the command's level and answers a ``UsageError`` with the usage line,
in the router's words; listeners of chat messages hear the line too. :meth:`ModuleChat.event`
sends another kind of event (a follow, a raid). ``chat.clock`` is a clock the test moves
(``chat.clock.advance(minutes=10)``), and :meth:`ModuleChat.run_due` runs the scheduled
handlers due by it, as the router would for one community."""

from __future__ import annotations

import inspect
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from waddlebot.core.clock import ManualClock
from waddlebot.core.contract import Caller, Identity, ModuleRequest, ModuleResponse, Reply
from waddlebot.core.events import Amounts, EventType, Platform, new_id
from waddlebot.core.parser import parse_command
from waddlebot.core.permissions import Level
from waddlebot.router.modules import LocalModuleClient, ModuleRegistry
from waddlebot.sdk import Module

__all__ = ["ManualClock", "ModuleChat"]


class ModuleChat:
    """One module in one place of one community, as a test sees it.

    ``store``: what the module's ``ctx.store`` keeps, when the SDK has it (passed to
    ``module.handle``); ``config``: the community's settings for the module."""

    def __init__(
        self,
        module: Module,
        *,
        prefix: str = "!",
        platform: Platform = "console",
        entity_id: str = "console:local",
        channel_id: str = "local",
        community_id: int = 1,
        config: dict[str, Any] | None = None,
        store: object | None = None,
        clock: ManualClock | None = None,
    ) -> None:
        self.module = module
        self.prefix = prefix
        self.platform: Platform = platform
        self.entity_id = entity_id
        self.channel_id = channel_id
        self.community_id = community_id
        self.config = dict(config or {})
        self.store = store
        self.clock = clock or ManualClock()
        self.responses: list[ModuleResponse] = []
        """Every answer the module gave, oldest first (overlay updates and actions too)."""
        self.last: list[Reply] = []
        """What the last call said, with each reply's visibility (the router's lines too)."""
        self._routes = ModuleRegistry([LocalModuleClient(module)])
        now = self.clock.now()
        self._next_runs: dict[str, datetime] = {
            spec.name: spec.next_run(now) for spec in module.schedules
        }

    # ----- chat ---------------------------------------------------------------------------

    async def say(
        self,
        text: str,
        *,
        as_: str = "alice",
        level: Level | int | str = Level.EVERYONE,
        user_id: int | None = None,
    ) -> list[str]:
        """Say ``text`` as ``as_`` (at ``level``: a name like ``"moderator"`` or a
        :class:`Level`); the texts said back, in order (nothing for a line that is not one of
        the module's commands and that it does not listen to)."""
        caller = self._caller(as_, level, user_id)
        said: list[Reply] = []
        parsed = parse_command(text, self.prefix)
        route = self._routes.command(parsed.prefix, parsed.name) if parsed else None
        if parsed is not None and route is not None:
            shown = f"{parsed.prefix}{parsed.name}"
            if caller.level < route.spec.level:
                said.append(Reply(text=route.spec.denial_reply(caller.name, shown)))
            else:
                response = await self._handle(
                    self._request(
                        caller=caller,
                        command=route.spec.name,
                        prefix=parsed.prefix,
                        args=list(parsed.args),
                        raw_text=text,
                    )
                )
                if response.usage_error:
                    said.append(
                        Reply(
                            text=route.spec.usage_reply(
                                self.prefix, response.usage_error, response.usage or None
                            )
                        )
                    )
                else:
                    said += response.replies
        if EventType.CHAT_MESSAGE in self.module.manifest.events:
            said += (
                await self._handle(self._request(kind="event", caller=caller, raw_text=text))
            ).replies
        return self._said(said)

    async def event(
        self,
        event_type: EventType,
        *,
        as_: str = "alice",
        level: Level | int | str = Level.EVERYONE,
        user_id: int | None = None,
        text: str = "",
        **amounts: Any,
    ) -> list[str]:
        """An event of ``event_type`` by ``as_`` (``amounts``: bits, months, viewers, tier,
        count); the texts the module's listeners said."""
        if event_type not in self.module.manifest.events:
            return []
        request = self._request(
            kind="event",
            event_type=event_type,
            caller=self._caller(as_, level, user_id),
            raw_text=text,
            amounts=Amounts(**amounts),
        )
        return self._said((await self._handle(request)).replies)

    # ----- schedules ----------------------------------------------------------------------

    async def run_due(self) -> list[str]:
        """Run the scheduled handlers due by ``chat.clock``, soonest first, each once however
        many runs it missed (as the router does); the texts they said."""
        now = self.clock.now()
        specs = {spec.name: spec for spec in self.module.schedules}
        due = sorted((when, name) for name, when in self._next_runs.items() if when <= now)
        said: list[Reply] = []
        for when, name in due:
            self._next_runs[name] = specs[name].next_run(now)
            request = self._request(kind="schedule", command=name, occurred_at=when)
            said += (await self._handle(request)).replies
        return self._said(said)

    # ----- start and stop hooks -----------------------------------------------------------

    async def start(self) -> None:
        """Run the module's ``on_start`` hooks."""
        await self.module.start()

    async def stop(self) -> None:
        """Run the module's ``on_stop`` hooks."""
        await self.module.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----- building requests --------------------------------------------------------------

    def _caller(self, name: str, level: Level | int | str, user_id: int | None) -> Caller:
        return Caller(
            user_id=user_id,
            identity=Identity(platform=self.platform, user_id=name, login=name, display_name=name),
            level=int(Level.parse(level) if isinstance(level, str) else level),
        )

    def _request(self, **fields: Any) -> ModuleRequest:
        return ModuleRequest(
            session_id=new_id(),
            community_id=self.community_id,
            entity_id=self.entity_id,
            platform=self.platform,
            channel_id=self.channel_id,
            message_id=new_id() if fields.get("caller") else "",
            config=self.config,
            **fields,
        )

    def _said(self, replies: list[Reply]) -> list[str]:
        self.last = replies
        return [reply.text for reply in replies]

    async def _handle(self, request: ModuleRequest) -> ModuleResponse:
        handle = self.module.handle
        extra: dict[str, Any] = {}
        if self.store is not None and "store" in inspect.signature(handle).parameters:
            extra["store"] = self.store
        response = await handle(request, **extra)
        self.responses.append(response)
        return response
