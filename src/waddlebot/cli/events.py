"""``waddlebot events dead-letters ...``: the events the router set aside, listed and put back
on the bus.

With ``WADDLEBOT_REDIS_URL`` set the command reads and writes the Redis bus itself; otherwise
it asks a running WaddleBot over its HTTP API (an embedded bot keeps its bus in its own
memory), with an admin service key, as ``waddlebot chat --url`` does.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

import typer

from waddlebot.cli.failures import EX_CONFIG, EX_UNAVAILABLE, CommandFailed
from waddlebot.cli.host import print_json, read_settings
from waddlebot.settings import Settings

if TYPE_CHECKING:
    from waddlebot.router.dead_letters import DeadLetters

T = TypeVar("T")

events_app = typer.Typer(help="Events on the bus: the dead letters.", no_args_is_help=True)
dead_letters_app = typer.Typer(
    help="Events the router set aside (failed too often, or malformed): list and replay them.",
    no_args_is_help=True,
)
events_app.add_typer(dead_letters_app, name="dead-letters")

Url = Annotated[
    str | None,
    typer.Option(
        help="a running WaddleBot to ask, when WADDLEBOT_REDIS_URL is not set "
        "(default: http://127.0.0.1:<WADDLEBOT_PORT>)"
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(envvar="WADDLEBOT_API_KEY", help="an admin service key for --url"),
]
PAGE = 500
KEY_HINT = " (check the API key: --api-key, WADDLEBOT_API_KEY or var/api-key)"
COLUMNS = (
    ("ID", "id"),
    ("DEAD AT (UTC)", "dead_at"),
    ("PLATFORM", "platform"),
    ("PLACE", "entity_id"),
    ("DELIVERIES", "deliveries"),
    ("REASON", "reason"),
    ("TEXT", "text"),
)
SAID = {
    "replayed": "replayed",
    "already_answered": "already answered; removed from the dead letters",
    "not_found": "not found (replayed or removed already?)",
    "malformed": "malformed; left where it is (it is no event)",
}


class Source(Protocol):
    async def letters(self) -> list[dict[str, Any]]: ...

    async def replay(self, ids: Sequence[str] | None) -> list[dict[str, Any]]:
        """None: every one."""
        ...


class RedisSource:
    """The Redis bus itself, as the router processes see it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def _with(self, work: Callable[[DeadLetters], Awaitable[T]]) -> T:
        from waddlebot.infra.factory import build_ports
        from waddlebot.router.dead_letters import DeadLetters

        # a Redis that does not answer is a ServiceUnavailable, said by the CLI as one line
        ports = await build_ports(self._settings.redis_url, self._settings.stream_prefix)
        try:
            return await work(DeadLetters(ports.bus, ports.cache))
        except ValueError as exc:  # an id that is none
            raise CommandFailed(str(exc)) from exc
        finally:
            await ports.close()

    async def letters(self) -> list[dict[str, Any]]:
        async def work(dead: DeadLetters) -> list[dict[str, Any]]:
            return [_jsonable(letter.summary()) for letter in await dead.list_all()]

        return await self._with(work)

    async def replay(self, ids: Sequence[str] | None) -> list[dict[str, Any]]:
        async def work(dead: DeadLetters) -> list[dict[str, Any]]:
            done = await (dead.replay_all() if ids is None else dead.replay(ids))
            return [
                {"id": r.id, "outcome": r.outcome, "event_id": r.event_id, "entry_id": r.entry_id}
                for r in done
            ]

        return await self._with(work)


class HttpSource:
    """A running WaddleBot's API: ``/api/v1/events/dead-letters``."""

    def __init__(self, url: str, api_key: str) -> None:
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx2

        try:
            async with httpx2.AsyncClient(timeout=60) as client:
                response = await client.request(
                    method, f"{self._url}{path}", headers=self._headers, **kwargs
                )
        except httpx2.HTTPError as exc:
            raise CommandFailed(
                f"cannot reach {self._url}: {exc} (is WaddleBot running there?)",
                EX_UNAVAILABLE,
            ) from exc
        if response.status_code != 200:
            refused = response.status_code in (401, 403)
            raise CommandFailed(
                f"{self._url} answered HTTP {response.status_code}: "
                f"{_detail(response)}{KEY_HINT if refused else ''}",
                EX_CONFIG if refused else EX_UNAVAILABLE if response.status_code == 503 else 1,
            )
        return response.json()

    async def letters(self) -> list[dict[str, Any]]:
        letters: list[dict[str, Any]] = []
        cursor = ""
        while True:
            params = {"limit": str(PAGE), **({"cursor": cursor} if cursor else {})}
            page = await self._call("GET", "/api/v1/events/dead-letters", params=params)
            letters += page["items"]
            if not page["next"]:
                return letters
            cursor = page["next"]

    async def replay(self, ids: Sequence[str] | None) -> list[dict[str, Any]]:
        body = {"all": True} if ids is None else {"ids": list(ids)}
        report = await self._call("POST", "/api/v1/events/dead-letters/replay", json=body)
        results: list[dict[str, Any]] = report["results"]
        return results


def _detail(response: Any) -> str:
    try:
        detail = response.json().get("detail", "")
    except ValueError:
        return response.text[:200]
    return str(detail)  # a problem's detail: what was wrong, and with what


def _jsonable(summary: dict[str, Any]) -> dict[str, Any]:
    dead_at = summary["dead_at"]
    return {**summary, "dead_at": dead_at.isoformat() if dead_at else None}


def _source(url: str | None, api_key: str | None) -> Source:
    from waddlebot.cli.chat import read_api_key

    settings = read_settings(quiet=True)
    if settings.redis_url and url is None:
        return RedisSource(settings)
    return HttpSource(url or f"http://127.0.0.1:{settings.port}", read_api_key(settings, api_key))


@dead_letters_app.command("list")
def list_dead_letters(
    as_json: Annotated[bool, typer.Option("--json", help="a JSON array, one object each")] = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """List the dead letters, oldest first.

    Each with its id, when it was set aside, its platform and place, how often it had been
    handed out, why, and the start of its text."""
    letters = asyncio.run(_source(url, api_key).letters())
    if as_json:
        print_json(letters)
        return
    if not letters:
        typer.echo("no dead letters")
        return
    rows = [[title for title, _ in COLUMNS]]
    rows += [[_cell(letter, field) for _, field in COLUMNS] for letter in letters]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    for row in rows:
        typer.echo("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]))
    typer.echo(f"{len(letters)} dead letter{'s' if len(letters) != 1 else ''}")


def _cell(letter: dict[str, Any], field: str) -> str:
    value = letter.get(field)
    if value is None or value == "":
        return "-"
    if field == "dead_at":
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


@dead_letters_app.command("replay")
def replay_dead_letters(
    ids: Annotated[list[str] | None, typer.Argument(help="dead letter ids, as listed")] = None,
    every: Annotated[bool, typer.Option("--all", help="replay every dead letter")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="a JSON array: id, outcome, event_id, entry_id each")
    ] = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Put dead letters back on the bus to be answered.

    One whose message was answered already is removed instead, never answered twice. Exits 1
    when an id was not found or an entry is malformed."""
    if bool(ids) == every:
        raise typer.BadParameter("give dead letter ids, or --all (not both)")
    results = asyncio.run(_source(url, api_key).replay(None if every else ids))
    counts = Counter(r["outcome"] for r in results)
    if as_json:
        print_json(results)
    else:
        _print_replayed(results, counts)
    if counts["not_found"] or counts["malformed"]:
        raise typer.Exit(1)


def _print_replayed(results: list[dict[str, Any]], counts: Counter[str]) -> None:
    width = max((len(r["id"]) for r in results), default=0)
    for r in results:
        line = f"{r['id'].ljust(width)}  {SAID.get(r['outcome'], r['outcome'])}"
        if r.get("event_id"):
            line += f"  event {r['event_id']}"
        typer.echo(line)
    typer.echo(
        f"replayed {counts['replayed']}, already answered {counts['already_answered']}, "
        f"not found {counts['not_found']}, malformed {counts['malformed']}"
    )
