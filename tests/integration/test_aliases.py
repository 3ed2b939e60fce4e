"""Linux-style aliases end to end through the console, embedded and distributed: defining,
showing, removing, arguments, permissions, shadowing built-ins, loops and depth."""

from __future__ import annotations

import pytest

from tests.support.harness import say
from waddlebot.runtime import Runtime

MOD = {"role": "moderator", "user": "mia"}
ADMIN = {"role": "admin", "user": "ada"}


async def test_define_use_show_list_and_remove(runtime: Runtime) -> None:
    assert await say(runtime, "!alias", **MOD) == [
        "No aliases yet. Define one with !alias hi='!so $1'."
    ]
    assert await say(runtime, "!alias hi='!echo hello $1'", **MOD) == [
        "Added alias !hi -> !echo hello $1."
    ]
    assert await say(runtime, "!hi bob") == ["hello bob"]
    assert await say(runtime, "!HI bob") == ["hello bob"]
    assert await say(runtime, "!alias add all !echo all: $@", **MOD) == [
        "Added alias !all -> !echo all: $@."
    ]
    assert await say(runtime, "!all a b c") == ["all: a b c"]
    assert await say(runtime, "!alias hi") == ["alias hi='!echo hello $1'"]
    assert await say(runtime, "!alias") == ["Aliases: all='!echo all: $@', hi='!echo hello $1'"]
    assert await say(runtime, "!alias hi='!echo hey $1'", **MOD) == [
        "Changed alias !hi -> !echo hey $1."
    ]
    assert await say(runtime, "!hi bob") == ["hey bob"]
    assert await say(runtime, "!unalias hi", **MOD) == ["Removed alias !hi."]
    assert await say(runtime, "!hi bob") == []  # unknown again, like any unknown name
    assert await say(runtime, "!alias remove all", **MOD) == ["Removed alias !all."]
    assert await say(runtime, "!unalias all", **MOD) == ["There is no alias !all here."]
    assert await say(runtime, "!alias all") == ["There is no alias !all here."]


async def test_arguments_user_and_quoting(runtime: Runtime) -> None:
    await say(runtime, "!alias e='!echo'", **MOD)
    assert await say(runtime, "!e x y") == ["x y"]  # no placeholder: arguments appended
    await say(runtime, '!alias me="!echo I am $user, not $2"', **MOD)
    assert await say(runtime, "!me a b", user="bob") == ["I am bob, not b"]
    assert await say(runtime, "!me", user="bob") == ["I am bob, not"]  # missing: empty
    await say(runtime, "!alias first='!greet $1'", **MOD)
    # a quoted argument stays one argument of the command the alias runs
    assert await say(runtime, '!first "two words" extra') == ["hello two words"]


async def test_an_alias_never_lifts_a_permission(runtime: Runtime) -> None:
    assert await say(runtime, "!alias m='!modonly'") == [
        "Only moderators and up can define aliases."
    ]
    await say(runtime, "!alias m='!modonly'", **MOD)
    assert await say(runtime, "!m") == ["@alice, !modonly is for moderator level and up."]
    assert await say(runtime, "!m", **MOD) == ["hello moderator mia"]
    assert await say(runtime, "!alias remove m") == ["Only moderators and up can remove aliases."]
    assert await say(runtime, "!unalias m", user="bob") == [
        "@bob, !unalias is for moderator level and up."
    ]


async def test_built_ins_are_shadowed_only_when_an_admin_forces_it(runtime: Runtime) -> None:
    assert await say(runtime, "!alias ping='!echo not pong'", **MOD) == [
        "!ping is a built-in command; an admin can shadow it with !alias -f ping='...'."
    ]
    assert await say(runtime, "!alias -f ping='!echo not pong'", **MOD) == [
        "Only admins and up can force an alias over a command."
    ]
    assert await say(runtime, "!ping") == ["pong"]
    assert await say(runtime, "!alias -f ping='!echo not pong'", **ADMIN) == [
        "Added alias !ping -> !echo not pong (forced)."
    ]
    assert await say(runtime, "!ping") == ["not pong"]
    assert await say(runtime, "!alias ping") == ["alias ping='!echo not pong' (forced)"]
    # as in a shell, an alias running its own name runs the command it shadows
    assert await say(runtime, "!alias ping='!ping' --force", **ADMIN) == [
        "Changed alias !ping -> !ping (forced)."
    ]
    assert await say(runtime, "!ping") == ["pong"]
    assert await say(runtime, "!alias -f alias='!echo gone'", **ADMIN) == [
        "!alias cannot be shadowed by an alias."
    ]
    assert await say(runtime, "!unalias ping", **MOD) == ["Removed alias !ping."]
    assert await say(runtime, "!ping") == ["pong"]


async def test_loops_and_depth_give_clear_errors(runtime: Runtime) -> None:
    assert await say(runtime, "!alias a='!a'", **MOD) == ["!a would run itself."]
    await say(runtime, "!alias b='!echo b'", **MOD)
    await say(runtime, "!alias a='!b'", **MOD)
    await say(runtime, "!alias b='!a'", **MOD)
    assert await say(runtime, "!a") == ["That alias goes round in circles (a -> b -> a)."]
    await say(runtime, "!alias d6='!echo deep'", **MOD)
    for n in range(5, 0, -1):
        await say(runtime, f"!alias d{n}='!d{n + 1}'", **MOD)
    assert await say(runtime, "!d2") == ["deep"]  # four aliases deep is fine
    assert await say(runtime, "!d1") == ["That alias goes more than 5 commands deep."]


async def test_aliases_and_custom_commands_keep_out_of_each_others_names(
    runtime: Runtime,
) -> None:
    await say(runtime, "!addcom !greeting Hi $(touser)!", **MOD)
    assert await say(runtime, "!alias g='!greeting'", **MOD) == ["Added alias !g -> !greeting."]
    assert await say(runtime, "!g bob") == ["Hi bob!"]
    assert await say(runtime, "!alias greeting='!echo x'", **MOD) == [
        "!greeting is a custom command here; delete it first, or an admin can shadow it "
        "with !alias -f greeting='...'."
    ]
    assert await say(runtime, "!addcom !g Hello", **MOD) == [
        "!g is an alias here (!alias g); remove it with !unalias g first."
    ]
    assert await say(runtime, "!alias x='!nothing here'", **MOD) == [
        "!nothing is not a command here."
    ]


async def test_bad_definitions_get_a_usage_line(runtime: Runtime) -> None:
    usage = (
        "Usage: !alias [name | name='!command args' | add name !command args | remove name] [-f]"
    )
    assert await say(runtime, "!alias hi there you", **MOD) == [
        f"{usage} (define one as name='!command args')"
    ]
    assert await say(runtime, "!alias hi='echo x'", **MOD) == [
        f"{usage} (an alias runs a command: start it with !, e.g. !so $1)"
    ]
    assert await say(runtime, "!alias add hi", **MOD) == [
        f"{usage} (add takes a name and a command, e.g. add hi !so $1)"
    ]
    assert (await say(runtime, "!alias 9lives='!echo x'", **MOD))[0].startswith(usage)


async def test_aliases_follow_a_new_prefix(runtime: Runtime) -> None:
    await say(runtime, "!alias hi='!echo hello'", **MOD)
    await say(runtime, "!prefix ?", role="owner", user="olga")
    assert await say(runtime, "?hi") == ["hello"]
    assert await say(runtime, "?alias hi") == ["alias hi='?echo hello'"]


@pytest.mark.parametrize("mode", ["distributed"], indirect=True)
async def test_an_alias_defined_in_one_router_is_known_to_another(
    runtime: Runtime, settings: object
) -> None:
    from waddlebot.settings import Settings

    assert isinstance(settings, Settings)
    other = await Runtime.start(settings, services=("router",))
    try:
        await say(runtime, "!alias hi='!echo hello'", **MOD)
        index = await other.aliases.index([1])
        assert index[1]["hi"].expansion == "echo hello"
        await say(runtime, "!unalias hi", **MOD)
        assert "hi" not in (await other.aliases.index([1]))[1]
    finally:
        await other.stop()


async def test_an_alias_does_not_skip_its_commands_cooldown(runtime: Runtime) -> None:
    await say(runtime, "!alias c='!cool'", **MOD)
    assert await say(runtime, "!c") == ["cool"]
    (notice,) = await say(runtime, "!c")
    assert notice.startswith("@alice, slow down: !cool is on cooldown for you.")
    assert await say(runtime, "!cool") == []  # told already in this window
