"""The variables a custom command's response may hold, for people: the portal's reference
panel shows these rows, and docs/commands.md's "Variables" table is the same rows (a docs test
compares them), so the two cannot drift apart. Each cell is Markdown: text in backticks is
code. The resolvers themselves are ``StandardVariables`` (core/variables.py), the counters in
module.py and ``UrlFetcher`` (infra/urlfetch.py)."""

from __future__ import annotations

VARIABLES: tuple[tuple[str, str], ...] = (
    ("`$(user)`", "who used the command (also `$(sender)`, `$(source)`)"),
    ("`$(touser)`", "the first argument without `@`, or the user when there is none"),
    ("`$(1)` ... `$(9)`", "one argument; `$(2 default)` gives `default` when it is missing"),
    ("`$(1:)` ... `$(9:)`", "that argument and all after it"),
    ("`$(query)` / `$(querystring)`", "everything after the command / the same, URL-encoded"),
    ("`$(channel)`, `$(platform)`", "where it was used"),
    ("`$(random 1-6)`", "a whole number in the range"),
    ("`$(random.pick a 'b c' d)`", "one of the choices"),
    ("`$(time Europe/Berlin)`", "the time there (UTC by default)"),
    (
        "`$(uptime)`, `$(game)`",
        "how long the stream has been live, and what is being played: on Twitch from the "
        "stream's start and from Helix (polled every 5 minutes); `offline` / `(no game)` "
        "otherwise",
    ),
    (
        "`$(urlfetch https://...)`",
        "the first line of a web page (also `$(customapi ...)`); public addresses only, 5 s, 4 KiB",
    ),
    ("`$(count)`", "how many times this command has been used, this use included"),
    (
        "`$(count name)`, `$(count name +n)`, `$(count name -n)`",
        "add 1 (or n, or take n) to the community's counter `name` and show it",
    ),
    ("`$(getcount name)`", "the counter's value, unchanged (0 if never counted)"),
)


def pieces(cell: str) -> list[tuple[str, bool]]:
    """A cell as (text, is_code) pieces: what is between backticks is code."""
    return [(part, index % 2 == 1) for index, part in enumerate(cell.split("`")) if part]
