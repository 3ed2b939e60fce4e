"""The built-in ``inventory`` module: ``!inventory`` (``!inv``) add, remove, checkout,
checkin, list, search, status, history and label. What may be done by whom:

- everyone lists, searches, asks for status and history, checks things out for themselves
  and checks in what they have;
- moderators add, remove and label items, check out for someone else (``@user``) and check
  in whatever is out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import cast

from waddlebot.core.language import ZoneOf, format_moment
from waddlebot.core.permissions import Level
from waddlebot.features.inventory.service import (
    STATES,
    CheckoutInfo,
    InventoryError,
    InventoryService,
    ItemInfo,
    ItemTaken,
    State,
    UnknownItem,
)
from waddlebot.sdk import (
    Context,
    FindUser,
    Module,
    UsageError,
    joined,
    mentioned_user,
    usage_unless_refusal,
)
from waddlebot.sdk.subcommand import SubcommandCall, add_subcommands

USAGE = (
    "add <item> [description] [#label ...] | remove <item> | checkout <item> [@user] | "
    "checkin <item> | list [all|available|out] | search <words> | status <item> | "
    "history <item> | label <item> add|remove <label>"
)
_STATE_WORDS: dict[str, State] = {"all": "all", "available": "available", "in": "available"}
_STATE_WORDS |= {"out": "out", "checked-out": "out"}


def build_inventory_module(service: InventoryService, find_user: FindUser, zone: ZoneOf) -> Module:
    module = Module(
        "inventory", version="1.0.0", description="Things the community lends out, and who has them"
    )

    add_subcommands(
        module,
        "inventory",
        _HANDLERS,
        lambda ctx: _Call(ctx, service, find_user, zone),
        refusals=(ItemTaken,),  # other refusals are said as they are (the SDK)
        explain=lambda call, exc: call.explain(cast(ItemTaken, exc)),
        aliases=("inv",),
        usage=USAGE,
        description="Lists and lends the community's things; moderators add and remove them",
    )

    return module


class _Call(SubcommandCall):
    """One ``!inventory`` subcommand, with the service."""

    def __init__(
        self, ctx: Context, service: InventoryService, find_user: FindUser, zone: ZoneOf
    ) -> None:
        super().__init__(ctx)
        self.service = service
        self.find_user = find_user
        self._zone = zone

    @property
    def moderator(self) -> bool:
        return self.ctx.caller_level >= Level.MODERATOR

    def item(self, extra: str = "") -> str:
        """The item named right after the verb (quotes group words); nothing may follow
        unless ``extra`` says what."""
        if not self.args:
            raise UsageError(f"which item? e.g. {self.prefix}inventory {self.verb} camera{extra}")
        if len(self.args) > 1 and not extra:
            raise UsageError(
                f"one item; put a name with spaces in quotes: {self.prefix}inventory {self.verb} "
                f'"{" ".join(self.args)}"'
            )
        return self.args[0]

    async def when(self, moment: datetime) -> str:
        zone = await self._zone(self.community_id)
        return format_moment(moment, zone, self.service.clock.now())

    async def explain(self, exc: ItemTaken) -> str:
        since = await self.when(exc.since)
        return f"{exc.holder} has {exc.name} since {since}"


async def _add(call: _Call) -> None:
    if not call.allowed("add items"):
        return
    item = call.item(" [description] [#label ...]")
    rest = call.args[1:]
    split = len(rest)
    while split and rest[split - 1].startswith("#"):
        split -= 1
    description, labels = " ".join(rest[:split]), rest[split:]
    try:
        info = await call.service.add(
            call.community_id, item, description, labels, actor=call.ctx.actor
        )
    except InventoryError as exc:
        usage_unless_refusal(exc)
    tags = f" Labels: {_tags(info)}." if info.labels else ""
    call.ctx.reply(f"Added item {info.name}.{tags}")


async def _remove(call: _Call) -> None:
    if not call.allowed("remove items"):
        return
    try:
        info = await call.service.remove(call.community_id, call.item(), actor=call.ctx.actor)
    except ItemTaken as exc:
        since = await call.when(exc.since)
        call.ctx.reply(f"{exc.holder} has {exc.name} since {since}; check it in first.")
        return
    call.ctx.reply(f"Removed item {info.name}.")


async def _checkout(call: _Call) -> None:
    item = call.item(" [@user]")
    if len(call.args) > 2:
        raise UsageError(f"the item, then whom for: {call.prefix}inventory checkout camera @bob")
    if len(call.args) == 2:
        if not call.allowed("check things out for someone else"):
            return
        user_id, shown = await mentioned_user(call.ctx, call.find_user, call.args[1])
        if user_id is None:
            return
    else:
        user_id, shown = call.user_id(), call.me
    try:
        info = await call.service.checkout(
            call.community_id, item, user_id, shown, actor=call.ctx.actor
        )
    except ItemTaken as exc:
        since = await call.when(exc.since)
        if exc.holder_user_id == user_id:
            who = "You have" if shown == call.me else f"{shown} has"
            call.ctx.reply(f"{who} {exc.name} already (since {since}).")
        else:
            call.ctx.reply(f"Sorry, {exc.holder} has {exc.name} (since {since}).")
        return
    if shown == call.me:
        call.ctx.reply(
            f"{shown}, {info.name} is yours. Check it in with "
            f"{call.prefix}inventory checkin {_quoted(info.name)}"
        )
    else:
        call.ctx.reply(f"{info.name} is checked out to {shown}.")


async def _checkin(call: _Call) -> None:
    item = call.item()
    holder = None if call.moderator else call.user_id()
    closed = await call.service.checkin(
        call.community_id, item, holder_user_id=holder, actor=call.ctx.actor
    )
    info = await call.service.get(call.community_id, item)
    name = info.name if info else item
    since = await call.when(closed.out_at)
    call.ctx.reply(f"{name} is checked in; {closed.user_name} had it since {since}.")


async def _list(call: _Call) -> None:
    if len(call.args) > 1 or (call.args and call.args[0].lower() not in _STATE_WORDS):
        raise UsageError(f"list takes one of {', '.join(STATES)}, or nothing")
    state = _STATE_WORDS[call.args[0].lower()] if call.args else "all"
    items = await call.service.list(call.community_id, state)
    if not items:
        call.ctx.reply(
            {
                "all": "No items yet.",
                "available": "Nothing is available.",
                "out": "Nothing is checked out.",
            }[state]
        )
        return
    title = {"all": "Items", "available": "Available", "out": "Checked out"}[state]
    shown = [_listed(item, with_holder=state == "out") for item in items]
    call.ctx.reply(f"{title}: {joined(shown)}")


async def _search(call: _Call) -> None:
    if not call.args:
        raise UsageError(f"search for what? e.g. {call.prefix}inventory search camera")
    items = await call.service.search(call.community_id, call.args)
    if not items:
        call.ctx.reply(f"No item matches {' '.join(call.args)!r}.")
        return
    call.ctx.reply(f"Found: {joined([_listed(item, with_holder=True) for item in items])}")


async def _status(call: _Call) -> None:
    info = await _get(call, call.item())
    about = [part for part in (info.description, _tags(info)) if part]
    head = f"{info.name} ({'; '.join(about)})" if about else info.name
    if info.checked_out_at is None:
        call.ctx.reply(f"{head}: available.")
    else:
        since = await call.when(info.checked_out_at)
        call.ctx.reply(f"{head}: {info.holder_name} has it since {since}.")


async def _history(call: _Call) -> None:
    info, lendings = await call.service.history(call.community_id, call.item())
    if not lendings:
        call.ctx.reply(f"{info.name} has never been checked out.")
        return
    shown = [await _lending(call, lending) for lending in lendings]
    call.ctx.reply(f"{info.name}, newest first: {'; '.join(shown)}")


async def _label(call: _Call) -> None:
    if not call.allowed("label items"):
        return
    example = f"{call.prefix}inventory label camera add video"
    if len(call.args) != 3 or call.args[1].lower() not in ("add", "remove"):
        raise UsageError(f"the item, add or remove, and the label: {example}")
    item, verb, label = call.args[0], call.args[1].lower(), call.args[2]
    info = await _get(call, item)
    try:
        if verb == "add":
            changed = await call.service.add_label(
                call.community_id, item, label, actor=call.ctx.actor
            )
        else:
            changed = await call.service.remove_label(
                call.community_id, item, label, actor=call.ctx.actor
            )
    except InventoryError as exc:
        usage_unless_refusal(exc)
    tag = f"#{label.removeprefix('#').lower()}"
    if verb == "add":
        said = f"{info.name} now has {tag}." if changed else f"{info.name} has {tag} already."
    else:
        said = (
            f"{info.name} no longer has {tag}." if changed else f"{info.name} does not have {tag}."
        )
    call.ctx.reply(said)


_HANDLERS: dict[str, Callable[[_Call], Awaitable[None]]] = {
    "add": _add,
    "remove": _remove,
    "checkout": _checkout,
    "checkin": _checkin,
    "list": _list,
    "search": _search,
    "status": _status,
    "history": _history,
    "label": _label,
}


async def _get(call: _Call, item: str) -> ItemInfo:
    info = await call.service.get(call.community_id, item)
    if info is None:
        raise UnknownItem(" ".join(item.split()))
    return info


async def _lending(call: _Call, lending: CheckoutInfo) -> str:
    out = await call.when(lending.out_at)
    if lending.in_at is None:
        return f"{lending.user_name} since {out} (still out)"
    return f"{lending.user_name} from {out} to {await call.when(lending.in_at)}"


def _listed(item: ItemInfo, *, with_holder: bool) -> str:
    if not item.out:
        return item.name
    return f"{item.name} ({item.holder_name})" if with_holder else f"{item.name} (out)"


def _tags(info: ItemInfo) -> str:
    return " ".join(f"#{tag}" for tag in info.labels)


def _quoted(name: str) -> str:
    return f'"{name}"' if " " in name else name
