"""``!module``: the catalogue and the community's modules, from chat."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from waddlebot.core.permissions import Level
from waddlebot.features.marketplace.asks import asked
from waddlebot.features.marketplace.catalogue import Catalogue, Entry
from waddlebot.features.marketplace.config import secret
from waddlebot.features.marketplace.installs import Installed, Installs, Review
from waddlebot.sdk import Context, Module, UsageError, joined
from waddlebot.sdk.subcommand import SubcommandCall, add_subcommands, reply_list
from waddlebot.serverless.accounting import Accounting
from waddlebot.serverless.budgets import Budgets

USAGE = (
    "search <words> | info <name> | list | install <name> [as <command>=<new name>] [yes] | "
    "upgrade <name> [yes] | config <name> [<setting> <value>] | enable <name> | "
    "disable <name> | uninstall <name> [--purge] | budget [<calls a day> | off | default]"
)
HealthOf = Callable[[], Awaitable[Mapping[str, str]]]
"""Each module's health in a few words (``ok``, ``breaker open``), by name; a module missing:
nothing is known of it."""


def build_marketplace_module(
    catalogue: Catalogue,
    installs: Installs,
    health: HealthOf | None = None,
    *,
    budgets: Budgets | None = None,
    usage: Accounting | None = None,
) -> Module:
    module = Module(
        "marketplace", version="1.0.0", description="Modules a community installs and switches"
    )

    def call(ctx: Context) -> _Call:
        return _Call(ctx, catalogue, installs, health or _unknown, budgets, usage)

    add_subcommands(
        module,
        "module",
        _HANDLERS,
        call,
        usage=USAGE,
        level=int(Level.MODERATOR),
        description="Finds, installs, configures and switches the community's modules",
    )
    return module


async def _unknown() -> Mapping[str, str]:
    return {}


class _Call(SubcommandCall):
    def __init__(
        self,
        ctx: Context,
        catalogue: Catalogue,
        installs: Installs,
        health: HealthOf,
        budgets: Budgets | None,
        usage: Accounting | None,
    ) -> None:
        super().__init__(ctx)
        self.catalogue = catalogue
        self.installs = installs
        self.health = health
        self.budgets = budgets
        self.usage = usage

    def name(self) -> str:
        if not self.args:
            raise UsageError(f"{self.verb} which module?")
        return self.args[0].lower()

    def confirmed(self) -> bool:
        return bool(self.args) and self.args[-1].lower() in ("yes", "confirm")

    def renames(self) -> dict[str, str]:
        """``as sr=songreq [...]`` after the name."""
        words = [w for w in self.args[1:] if w.lower() not in ("yes", "confirm")]
        if not words:
            return {}
        if words[0].lower() != "as" or len(words) == 1:
            raise UsageError("rename commands with as <command>=<new name>")
        renames = {}
        for word in words[1:]:
            old, sep, new = word.partition("=")
            if not sep or not old or not new:
                raise UsageError(f"{word!r}: write <command>=<new name>")
            renames[old.lstrip("!#").lower()] = new.lstrip("!#").lower()
        return renames


async def _search(call: _Call) -> None:
    words = " ".join(call.args)
    if not words:
        raise UsageError("search for what? e.g. search music")
    found = await call.catalogue.search(words)
    reply_list(
        call.ctx,
        f"Modules matching {words}",
        [f"{e.name} {e.manifest.version}" for e in found],
        f"No module matches {words}.",
    )


async def _info(call: _Call) -> None:
    entry = await call.catalogue.get(call.name())
    call.ctx.reply(_described(entry))


async def _list(call: _Call) -> None:
    if call.args:
        raise UsageError("list takes nothing after it")
    health = await call.health()
    shown = [
        _listed(item, health.get(item.name, ""))
        for item in await call.installs.list(call.community_id)
    ]
    reply_list(call.ctx, "Modules here", shown, "No modules here.", limit=450)


async def _install(call: _Call) -> None:
    if not call.permitted(Level.ADMIN, "install modules"):
        return
    name, renames = call.name(), call.renames()
    if not call.confirmed():
        review = await call.installs.review(call.community_id, name, renames)
        again = " ".join(call.args)
        call.ctx.reply(
            f"{_reviewed(review)} Say {call.prefix}module install {again} yes to install it."
        )
        return
    installed = await call.installs.install(
        call.community_id, name, actor=call.actor, renames=renames
    )
    commands = _commands(installed)
    call.ctx.reply(f"Installed {installed.name} {installed.version}. {commands}".strip())


async def _upgrade(call: _Call) -> None:
    if not call.permitted(Level.ADMIN, "upgrade modules"):
        return
    name = call.name()
    review = await call.installs.upgrade_review(call.community_id, name)
    if review.new and not call.confirmed():
        call.ctx.reply(
            f"{review.manifest.name} {review.manifest.version} asks for more: "
            f"{_asks(review.new)}. Say {call.prefix}module upgrade {name} yes to allow it."
        )
        return
    upgraded = await call.installs.upgrade(call.community_id, name, actor=call.actor)
    call.ctx.reply(f"{upgraded.name} is now at {upgraded.version}.")


async def _config(call: _Call) -> None:
    name = call.name()
    if len(call.args) == 1:
        installed = await call.installs.get(call.community_id, name)
        schema = installed.entry.manifest.config_schema
        settings = [
            f"{k}={'(set)' if secret(schema, k) else v}"
            for k, v in sorted(installed.config.items())
        ]
        reply_list(
            call.ctx,
            f"Settings of {installed.name}",
            settings,
            f"{installed.name} uses its defaults here.",
        )
        return
    if not call.permitted(Level.ADMIN, "change module settings"):
        return
    if len(call.args) < 3:
        raise UsageError("config <name> <setting> <value>")
    key, value = call.args[1], " ".join(call.args[2:])
    installed = await call.installs.configure(
        call.community_id, name, {key: value}, actor=call.actor
    )
    schema = installed.entry.manifest.config_schema
    shown = "set" if secret(schema, key) else installed.config.get(key)
    call.ctx.reply(f"{installed.name}: {key} is now {shown}.")


def _switch(enabled: bool) -> Callable[[_Call], Awaitable[None]]:
    async def switch(call: _Call) -> None:
        if not call.permitted(Level.ADMIN, f"{call.verb} modules"):
            return
        installed = await call.installs.set_enabled(
            call.community_id, call.name(), enabled, actor=call.actor
        )
        call.ctx.reply(f"{installed.name} is {'on' if enabled else 'off'} here now.")

    return switch


async def _uninstall(call: _Call) -> None:
    if not call.permitted(Level.ADMIN, "uninstall modules"):
        return
    name = call.name()
    purge = "--purge" in (a.lower() for a in call.args[1:])
    await call.installs.uninstall(call.community_id, name, actor=call.actor, purge=purge)
    kept = "and what it stored" if purge else "(what it stored is kept; --purge deletes it)"
    call.ctx.reply(f"Uninstalled {name} {kept}.")


async def _budget(call: _Call) -> None:
    """``budget``: today's serverless calls against the budget; ``budget N|off|default``
    sets it (admins)."""
    if call.budgets is None or call.usage is None:
        call.ctx.reply("This bot runs no serverless functions.")
        return
    if len(call.args) > 1:
        raise UsageError("budget [<calls a day> | off | default]")
    if call.args:
        if not call.permitted(Level.ADMIN, "set the function budget"):
            return
        word = call.args[0].lower()
        if word not in ("off", "default") and not word.isdigit():
            raise UsageError("budget takes a whole number of calls a day, off or default")
        daily = None if word == "default" else 0 if word == "off" else int(word)
        now = await call.budgets.set(call.community_id, daily, actor=call.actor)
        limit = f"{now:,} calls a day" if now else "no limit"
        call.ctx.reply(f"Serverless functions here: {limit}.")
        return
    budget = await call.budgets.of(call.community_id)
    today = (await call.usage.usage(call.community_id, days=1))[0]
    of = f" of {budget:,}" if budget else " (no limit)"
    said = f"Serverless calls today: {today.invocations:,}{of}"
    details = [f"{today.errors:,} failed"] if today.errors else []
    if today.billed_ms:
        details.append(f"{today.billed_ms / 1000:,.1f} s billed")
    if today.refused:
        details.append(f"{today.refused:,} refused over budget")
    call.ctx.reply(said + (f" ({', '.join(details)})." if details else "."))


_HANDLERS: dict[str, Callable[[_Call], Awaitable[None]]] = {
    "search": _search,
    "info": _info,
    "list": _list,
    "install": _install,
    "upgrade": _upgrade,
    "config": _config,
    "enable": _switch(True),
    "disable": _switch(False),
    "uninstall": _uninstall,
    "budget": _budget,
}


def _asks(items: tuple[str, ...]) -> str:
    return joined(asked(items))


def _reviewed(review: Review) -> str:
    manifest = review.manifest
    parts = [
        f"{manifest.name} {manifest.version} adds {joined(list(review.commands)) or 'no commands'}"
    ]
    if review.events:
        parts.append(f"reads {joined(list(review.events))} events")
    parts.append(f"and asks to {_asks(review.permissions) or 'do nothing'}")
    return ", ".join(parts) + "."


def _described(entry: Entry) -> str:
    manifest = entry.manifest
    by = f" by {manifest.author}" if manifest.author else ""
    commands = ", ".join(f"{'#' if c.serverless else '!'}{c.name}" for c in manifest.commands)
    text = f"{manifest.name} {manifest.version}{by}: {manifest.description or 'no description'}."
    if commands:
        text += f" Commands: {commands}."
    if entry.installable:
        text += f" Asks to {_asks(tuple(str(p) for p in manifest.permissions)) or 'do nothing'}."
    else:
        text += (
            " Part of the bot." if not entry.optional else " Part of the bot; on unless disabled."
        )
    if manifest.homepage:
        text += f" {manifest.homepage}"
    return text


def _listed(item: Installed, health: str) -> str:
    state = "on" if item.enabled else "off"
    if health:
        state += f", {health}"
    return f"{item.name} {item.version} ({state})"


def _commands(item: Installed) -> str:
    names = [
        f"{'#' if c.serverless else '!'}{item.renames.get(c.name, c.name)}"
        for c in item.entry.manifest.commands
    ]
    return f"Commands: {', '.join(names)}." if names else ""
