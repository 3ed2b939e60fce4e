"""The module SDK: a manifest, command and event handlers, and a context to answer through.

A module is platform-agnostic. It gets a :class:`~waddlebot.core.contract.ModuleRequest` and
answers with replies, overlay updates and actions; the same module runs in-process or as its own
HTTP service (``waddlebot serve module:<name>``) without changing a line::

    module = Module("greeter", version="1.0.0", description="Says hello")

    @module.command("hello", usage="[name]", description="Greets someone")
    async def hello(ctx: Context) -> None:
        ctx.reply(f"Hello, {ctx.args[0] if ctx.args else ctx.caller_name}!")
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar

from waddlebot.core.contract import (
    Action,
    ActionKind,
    ModuleRequest,
    ModuleResponse,
    OverlayUpdate,
    Reply,
    Visibility,
    action,
)
from waddlebot.core.errors import REFUSALS, WaddleError
from waddlebot.core.events import EventType, Platform
from waddlebot.core.manifest import ArgSpec, CommandSpec, Manifest
from waddlebot.core.manifest import ChatScope as ChatScope  # for modules narrowing their chat
from waddlebot.core.module_config import config_defaults, over_defaults
from waddlebot.core.overlay import normalize
from waddlebot.core.permissions import Level
from waddlebot.sdk.schedule import Scheduling
from waddlebot.sdk.store import ModuleStore, StoreBackend


def subcommand_args(choices: Iterable[str], *, required: bool = True) -> tuple[ArgSpec, ...]:
    """The arguments of a command with subcommands (``!label add ...``): the subcommand, then
    whatever it takes."""
    return (
        ArgSpec(name="subcommand", description=", ".join(choices), required=required),
        ArgSpec(name="arguments", description="depend on the subcommand", rest=True),
    )


class UsageError(Exception):
    """Raised by a handler when the arguments are wrong; the router answers with the usage
    line of the command and this message. ``usage`` replaces the argument part of that line
    (a command group sets its subcommand's, ``give <who> <points>``)."""

    def __init__(self, message: str = "", *, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


def usage_unless_refusal(exc: Exception) -> NoReturn:
    """For a handler's ``except``: a refusal (not found, conflict, not allowed, limit
    reached) goes on to be said as it is; any other error is a mistake in what was typed and
    becomes the usage line."""
    if isinstance(exc, REFUSALS):
        raise exc
    raise UsageError(str(exc)) from exc


H = TypeVar("H")


def pick_subcommand(ctx: Context, handlers: Mapping[str, H]) -> H:
    """For commands with subcommands (``!label add ...``): the handler the first argument
    names, in any case; a :class:`UsageError` listing the choices when it is missing or
    unknown."""
    choices = ", ".join(handlers)
    if not ctx.args:
        raise UsageError(f"say what to do: {choices}")
    wanted = ctx.args[0].lower()
    handler = handlers.get(wanted)
    if handler is None:
        raise UsageError(f"there is no {wanted!r}; use one of {choices}")
    return handler


def sentence(text: str) -> str:
    """A message for chat: capitalised, ending with a full stop."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def joined(items: list[str], limit: int = 400) -> str:
    """Comma-separated, cut short (``... and 12 more``) past ``limit`` characters."""
    shown: list[str] = []
    length = 0
    for item in items:
        if shown and length + len(item) + 2 > limit:
            return f"{', '.join(shown)} ... and {len(items) - len(shown)} more"
        shown.append(item)
        length += len(item) + 2
    return ", ".join(shown)


FindUser = Callable[[str, str], Awaitable[int | None]]
"""The WaddleBot user behind a name on a platform (``platform``, ``@bob``), if known."""


async def mentioned_user(ctx: Context, find_user: FindUser, given: str) -> tuple[int | None, str]:
    """The user id behind ``@bob`` (None when unknown, which the caller is told) and how to
    write them in a reply."""
    name = given.lstrip("@")
    shown = given if given.startswith("<@") else f"@{name}"
    if not name:
        raise UsageError("who? name someone, like @bob")
    user_id = await find_user(ctx.request.platform, name)
    if user_id is None:
        ctx.reply(f"I don't know {shown} here yet.")
    return user_id, shown


class Overlays:
    """``ctx.overlay``: updates for the community's OBS overlay pages (docs/overlays.md).

    ``ctx.overlay.show(kind, payload)`` (or just ``ctx.overlay(kind, payload)``) sends any
    update; the other methods build a valid payload for one kind of page and check it at
    once, so a mistake fails in your handler rather than in the router's log."""

    __slots__ = ("_updates",)

    def __init__(self, updates: list[OverlayUpdate]) -> None:
        self._updates = updates

    def show(self, kind: str, payload: Mapping[str, Any]) -> None:
        """An update for the ``kind`` page (``ticker``, ``media``, ``alerts``, ``general``;
        any other kind is shown as a card on ``general``). The router checks it."""
        self._updates.append(OverlayUpdate(kind=kind, payload=dict(payload)))

    __call__ = show

    def ticker(self, text: str, *, author: str = "") -> None:
        """A line on the ticker (an announcement)."""
        self._checked("ticker", {"text": text, "author": author})

    def alert(self, kind: str, *, name: str = "", message: str = "", **extra: Any) -> None:
        """An alert: ``kind`` is follow, subscribe, gift_subscribe, cheer, raid, boost,
        member_join or custom; ``extra``: bits, months, viewers, count, tier, title, and
        image and sound (media ids of files the community uploaded)."""
        self._checked("alerts", {"kind": kind, "name": name, "message": message, **extra})

    def now_playing(self, title: str, **song: Any) -> None:
        """What plays now (kept: pages opened later show it): ``artist``, ``album``,
        ``cover`` (https URL), ``duration`` and ``position`` (seconds), ``paused``,
        ``requested_by``, ``source``."""
        self._checked("media", {"type": "now_playing", "title": title, **song})

    def clip(self, url: str, *, title: str = "", channel: str = "", **extra: Any) -> None:
        """A video clip (an https URL of a file the browser plays) over the media page."""
        self._checked(
            "media", {"type": "clip", "url": url, "title": title, "channel": channel, **extra}
        )

    def card(
        self, title: str = "", body: str = "", *, template: str = "card", **extra: Any
    ) -> None:
        """A card on the general page: ``template`` card, banner, list, counter or fields;
        ``extra``: image, items, value, fields, duration (seconds, 0: until replaced)."""
        self._checked("general", {"template": template, "title": title, "body": body, **extra})

    def clear(self, kind: str) -> None:
        """Empty a page (stop what plays, take a card down, skip the alerts waiting)."""
        self.show(kind, {"clear": True})

    def _checked(self, kind: str, payload: dict[str, Any]) -> None:
        normalize(kind, payload)  # raises OverlayError (a ValueError) with what is wrong
        self.show(kind, payload)


class Context:
    """What a handler gets: the request, and methods that build the response."""

    # store, config and overlay are built on first use: most handlers touch none of them, and
    # a chat bot builds a Context for every command it answers
    __slots__ = (
        "_actions",
        "_config",
        "_config_source",
        "_module",
        "_overlay",
        "_overlays",
        "_replies",
        "_store",
        "_store_backend",
        "request",
    )

    def __init__(
        self,
        request: ModuleRequest,
        *,
        module: str = "",
        store: StoreBackend | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.request = request
        self._replies: list[Reply] = []
        self._overlay: list[OverlayUpdate] = []
        self._actions: list[Action] = []
        self._module = module
        self._store_backend = store
        self._config_source = config
        self._store: ModuleStore | None = None
        self._config: Mapping[str, Any] | None = None
        self._overlays: Overlays | None = None

    @property
    def store(self) -> ModuleStore:
        """The module's key-value buckets (docs/modules.md "Remembering things")."""
        if self._store is None:
            self._store = ModuleStore(self._store_backend, self._module, self.request)
        return self._store

    @property
    def config(self) -> Mapping[str, Any]:
        """The community's settings over the config_schema's defaults, read-only."""
        if self._config is None:
            # the request's own need no copy: the request is frozen
            source = self._config_source
            self._config = MappingProxyType(self.request.config if source is None else source)
        return self._config

    @property
    def overlay(self) -> Overlays:
        if self._overlays is None:
            self._overlays = Overlays(self._overlay)
        return self._overlays

    @property
    def args(self) -> list[str]:
        return self.request.args

    @property
    def rest(self) -> str:
        """The text after the command name, verbatim (quotes and spacing kept)."""
        request = self.request
        raw = request.raw_text.strip()
        if raw and request.prefix and raw.startswith(request.prefix):
            parts = raw.split(None, 1)
            return parts[1].strip() if len(parts) > 1 else ""
        return " ".join(request.args)

    @property
    def caller_name(self) -> str:
        caller = self.request.caller
        return caller.name if caller else "someone"

    @property
    def actor(self) -> str:
        """How the audit log names the caller: their WaddleBot user id, else their account."""
        caller = self.request.caller
        if caller is None:
            return ""
        if caller.user_id is not None:
            return str(caller.user_id)
        return f"{caller.identity.platform}:{caller.identity.user_id}"

    @property
    def caller_level(self) -> int:
        caller = self.request.caller
        return caller.level if caller else int(Level.EVERYONE)

    def reply(self, text: str, *, visibility: Visibility = Visibility.CHANNEL) -> None:
        """Answer in the place the command came from, threaded to it where the platform can."""
        self._replies.append(
            Reply(text=text, visibility=visibility, reply_to=self.request.message_id)
        )

    def say(self, text: str) -> None:
        """Post to the channel without threading."""
        self._replies.append(Reply(text=text))

    def direct(self, text: str, *, to_user: str = "", platform: Platform | None = None) -> None:
        """A private message (whisper / DM), to the caller unless ``to_user`` is given; to an
        account on another platform when ``platform`` is given too."""
        target = to_user or (self.request.caller.identity.user_id if self.request.caller else "")
        elsewhere = platform if platform and platform != self.request.platform else None
        self._replies.append(
            Reply(text=text, visibility=Visibility.DIRECT, to_user=target, to_platform=elsewhere)
        )

    def action(self, kind: ActionKind | str, /, **params: Any) -> None:
        """Ask the router to do something (:class:`~waddlebot.core.contract.ActionKind`),
        e.g. ``ctx.action(ActionKind.WHISPER, text="psst", to_user="1234")``. An unknown kind,
        or params that do not fit it, raise a ``ValidationError`` here."""
        self._actions.append(action(kind, **params))

    def response(self) -> ModuleResponse:
        return ModuleResponse(replies=self._replies, overlay=self._overlay, actions=self._actions)


HandlerResult = None | str | ModuleResponse
Handler = Callable[[Context], Awaitable[HandlerResult]]


class Module(Scheduling):
    """A module: its manifest plus the handlers behind it (scheduled handlers and start and
    stop hooks: :mod:`waddlebot.sdk.schedule`)."""

    def __init__(
        self,
        name: str,
        *,
        version: str = "0.1.0",
        description: str = "",
        config_schema: dict[str, Any] | None = None,
        **about: Any,
    ) -> None:
        """``about``: the other :class:`Manifest` fields (``author``, ``homepage``,
        ``changelog``, ``permissions`` the catalogue shows; ``chat``, a :class:`ChatScope`
        narrowing the chat lines its ``chat_message`` listener hears)."""
        self._meta: dict[str, Any] = {
            "name": name,
            "version": version,
            "description": description,
            **about,
        }
        self._name = name
        self._config_schema = config_schema or {}
        self._config_defaults = config_defaults(self._config_schema)
        self._commands: dict[str, tuple[CommandSpec, Handler]] = {}
        self._listeners: dict[EventType, list[Handler]] = {}
        self._fallback: Handler | None = None
        self._init_scheduling()

    @property
    def name(self) -> str:
        return self._name

    @property
    def manifest(self) -> Manifest:
        return Manifest(
            **self._meta,
            commands=tuple(spec for spec, _ in self._commands.values()),
            events=tuple(self._listeners),
            config_schema=self._config_schema,
            schedules=self.schedules,
        )

    def command(self, name: str, **spec: Any) -> Callable[[Handler], Handler]:
        """Register a command handler; keyword arguments are :class:`CommandSpec` fields."""

        def register(handler: Handler) -> Handler:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"handler for {name!r} must be an async function")
            if name in self._commands:
                raise ValueError(f"command {name!r} is registered twice in {self.name!r}")
            self._commands[name] = (CommandSpec(name=name, **spec), handler)
            return handler

        return register

    def group(self, name: str, **spec: Any) -> Group:
        """A command with subcommands, each with its level, usage and typed arguments
        (:class:`~waddlebot.sdk.groups.Group`); keyword arguments are :class:`CommandSpec`
        fields of the command itself."""
        return Group(self, name, **spec)

    def replace_spec(self, spec: CommandSpec) -> None:
        """Declare a registered command anew (a group, as its subcommands are added)."""
        self._commands[spec.name] = (spec, self._commands[spec.name][1])

    def fallback(self, handler: Handler) -> Handler:
        """Handle commands this module does not declare (custom commands a community defines
        at run time); the router sends them here when the module is its fallback."""
        if not inspect.iscoroutinefunction(handler):
            raise TypeError("the fallback handler must be an async function")
        self._fallback = handler
        return handler

    def on(self, *event_types: EventType) -> Callable[[Handler], Handler]:
        """Register a listener for non-command events (follows, raids, plain chat...)."""

        def register(handler: Handler) -> Handler:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError("event handlers must be async functions")
            for event_type in event_types:
                self._listeners.setdefault(event_type, []).append(handler)
            return handler

        return register

    async def handle(
        self, request: ModuleRequest, *, store: StoreBackend | None = None
    ) -> ModuleResponse:
        """Run the handler(s) for a request; a :class:`UsageError` becomes ``usage_error``, a
        :class:`WaddleError` a reply of its sentence. ``store`` keeps what ``ctx.store``
        remembers (without one, using ``ctx.store`` raises ``StoreUnavailable``)."""
        defaults = self._config_defaults
        config = over_defaults(defaults, request.config) if defaults else None
        ctx = Context(request, module=self._name, store=store, config=config)
        if request.kind == "command":
            entry = self._commands.get(request.command)
            handler = entry[1] if entry is not None else self._fallback
            if handler is None:
                raise LookupError(f"module {self.name!r} has no command {request.command!r}")
            try:
                await _collect(ctx, handler)
            except UsageError as exc:
                return ModuleResponse(usage_error=str(exc) or "wrong arguments", usage=exc.usage)
            except WaddleError as exc:  # a refusal the person can act on: said plainly
                ctx.reply(sentence(exc.sentence))
        elif request.kind == "schedule":
            await _collect(ctx, self.scheduled_handler(request.command))
        else:
            for handler in self._listeners.get(request.event_type, ()):
                await _collect(ctx, handler)
        return ctx.response()


async def _collect(ctx: Context, handler: Handler) -> None:
    result = await handler(ctx)
    if isinstance(result, str):
        ctx.reply(result)
    elif isinstance(result, ModuleResponse):
        ctx._replies.extend(result.replies)
        ctx._overlay.extend(result.overlay)
        ctx._actions.extend(result.actions)


# at the end: they build on what is above
from waddlebot.sdk.groups import Group as Group  # noqa: E402
from waddlebot.sdk.groups import Person as Person  # noqa: E402
from waddlebot.sdk.groups import Rest as Rest  # noqa: E402
