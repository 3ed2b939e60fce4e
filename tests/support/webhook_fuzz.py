"""What the webhook fuzz tests share: the app of one platform's collector served in-process
(httpx2's ASGI transport, so an exception inside the app reaches the test instead of becoming
a bare 500), random JSON, timestamps around the accepted window, and a tap on the events
stream to see what a request put on the bus."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from structlog.contextvars import bound_contextvars, merge_contextvars
from structlog.testing import capture_logs

from waddlebot.app import create_app
from waddlebot.core.events import Event
from waddlebot.infra import keys
from waddlebot.infra.codec import decode_envelope
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings

# Stable in CI (the same examples every run), bounded so the four fuzzers together take
# seconds; the app is one per test, shared by its examples (hence the fixture health check).
# A longer, random hunt: WADDLEBOT_FUZZ_EXAMPLES=5000 WADDLEBOT_FUZZ_RANDOM=1 pytest ...
FUZZ = settings(
    max_examples=int(os.environ.get("WADDLEBOT_FUZZ_EXAMPLES", "150")),
    derandomize=not os.environ.get("WADDLEBOT_FUZZ_RANDOM"),
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

BASE_URL = "http://waddlebot.test"


def with_fields(base: Settings, **fields: Any) -> Settings:
    """``base`` (from the integration ``settings`` fixture) with a platform's settings."""
    given = base.model_dump(exclude_unset=True)
    return Settings(_env_file=None, **{**given, **fields})  # type: ignore[call-arg]


@dataclass
class Served:
    runtime: Runtime
    http: httpx2.AsyncClient
    tap: BusTap


@contextlib.asynccontextmanager
async def serve(settings: Settings, services: Iterable[str]) -> AsyncIterator[Served]:
    """One platform's collector (no router: what a request publishes stays on the stream for
    the tap), its lifespan run as uvicorn would."""
    app = create_app(settings, services)
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        tap = BusTap(runtime)
        await tap.start()
        transport = httpx2.ASGITransport(app=app)  # raises what the app did not handle
        async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield Served(runtime, http, tap)


class BusTap:
    """The events put on the ``events`` stream since the last look (a consumer group of its
    own, read without waiting)."""

    GROUP = "webhook-fuzz"

    def __init__(self, runtime: Runtime) -> None:
        self._bus = runtime.ports.bus

    async def start(self) -> None:
        await self._bus.ensure_group(keys.EVENTS_STREAM, self.GROUP)
        await self.taken()

    async def taken(self) -> list[Event]:
        found = await self._bus.read(keys.EVENTS_STREAM, self.GROUP, "tap", 100, 0)
        if found:
            await self._bus.ack(keys.EVENTS_STREAM, self.GROUP, [m.id for m in found])
        return [decode_envelope(m.data).event for m in found]


@contextlib.contextmanager
def no_errors_logged() -> Iterator[None]:
    """Fails when the request logged an error (a failure its answer hid). Only what is
    logged inside (the ASGI transport runs the app in the caller's task) counts: the
    collector's own background work is not the request's doing."""
    with capture_logs([merge_contextvars]) as logs, bound_contextvars(webhook_fuzz=True):
        yield
    errors = [
        entry
        for entry in logs
        if entry.get("webhook_fuzz") and entry.get("log_level") in ("error", "critical")
    ]
    assert not errors, f"errors logged: {errors}"


def assert_answered(response: httpx2.Response, what: str = "") -> None:
    """The one property every request has: answered, with 2xx or 4xx, never 5xx."""
    assert 200 <= response.status_code < 500, (what, response.status_code, response.text[:500])


async def exchange(
    served: Served, request: Awaitable[httpx2.Response], what: str = ""
) -> tuple[httpx2.Response, list[Event]]:
    """One request: answered with 2xx or 4xx and no error logged, and, when refused,
    nothing put on the bus. Returns the answer and the events it put there."""
    with no_errors_logged():
        response = await request
    assert_answered(response, what)
    published = await served.tap.taken()
    if response.status_code >= 400:
        assert published == [], f"refused, yet published: {what}"
    return response, published


# ----- random JSON -----------------------------------------------------------------------------

# what Python's json writes: any int (Discord ids beyond 64 bits included), finite floats,
# every code point but lone surrogates (NUL included: PostgreSQL refuses it in text)
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    return st.recursive(
        _scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def junk_text() -> st.SearchStrategy[str]:
    return _text


def ids() -> st.SearchStrategy[str]:
    """Plausible platform ids: what a valid payload carries."""
    return st.text("0123456789", min_size=1, max_size=19)


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def header_text() -> st.SearchStrategy[str]:
    """What fits in an HTTP header value (visible ASCII)."""
    return st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)


def mostly(
    usual: st.SearchStrategy[Any], unusual: st.SearchStrategy[Any], one_in: int = 5
) -> st.SearchStrategy[Any]:
    """``usual``, and ``unusual`` one time in ``one_in``: most requests must get past the
    checks of the envelope to reach the parsing of what is inside."""
    return st.sampled_from([usual] * (one_in - 1) + [unusual]).flatmap(lambda chosen: chosen)


def chance(draw: st.DrawFn, one_in: int) -> bool:
    """True one time in ``one_in`` (a bounded integer would be its bounds far more often)."""
    return bool(draw(st.sampled_from([False] * (one_in - 1) + [True])))


# values that trip code expecting another type or size: each JSON type once, the numbers
# and strings at their edges
ODD_VALUES = (
    None,
    True,
    False,
    0,
    -1,
    7,
    2**64,
    -(2**70),
    1.5,
    1e308,
    "",
    "7",
    "x" * 300,
    "nul\x00",
    "\u00b2",
    "9" * 5000,
    [],
    [None],
    ["7"],
    {},
    {"": None},
    {"id": 7},
)


def odd_values() -> st.SearchStrategy[Any]:
    return mostly(st.sampled_from(ODD_VALUES), json_values(), one_in=3)


def bend(draw: st.DrawFn, value: Any, *, depth: int = 0) -> Any:
    """``value`` with one thing changed somewhere inside: a field (of the object itself, or
    of an object or list nested in it) removed, added or set to anything JSON holds."""
    if isinstance(value, dict) and value and depth < 4 and not chance(draw, 8):
        bent = dict(value)
        key = draw(mostly(st.sampled_from(sorted(bent)), junk_text(), one_in=8))
        what = draw(st.sampled_from(["drop", "inside", "inside", "set", "set"]))
        if what == "drop":
            bent.pop(key, None)
        elif what == "inside" and isinstance(bent.get(key), dict | list):
            bent[key] = bend(draw, bent[key], depth=depth + 1)
        else:
            bent[key] = draw(odd_values())
        return bent
    if isinstance(value, list) and value and depth < 4 and not chance(draw, 4):
        bent_list = list(value)
        index = draw(st.integers(0, len(bent_list) - 1))
        bent_list[index] = bend(draw, bent_list[index], depth=depth + 1)
        return bent_list
    return draw(odd_values())


# the odd values every field is swept with (see ``single_bends``)
SWEEP_VALUES = (None, True, 2**64, "x" * 300, "nul\x00", ["7"], {"id": 7})


def single_bends(value: Any, depth: int = 1) -> Iterator[tuple[str, Any]]:
    """``value`` with exactly one field changed, every way: each field of each object in it
    (``depth`` objects deep) removed or set to each of :data:`SWEEP_VALUES`. Random fuzzing
    reaches one particular field of one payload type rarely; this reaches each, every run."""
    if not isinstance(value, dict) or depth < 0:
        return
    for key, inner in value.items():
        yield f"-{key}", {k: v for k, v in value.items() if k != key}
        for odd in SWEEP_VALUES:
            yield f"{key}={odd!r:.20}", {**value, key: odd}
        for path, bent in single_bends(inner, depth - 1):
            yield f"{key}.{path}", {**value, key: bent}
        if isinstance(inner, list) and inner:
            for path, bent in single_bends(inner[0], depth - 1):
                yield f"{key}[0].{path}", {**value, key: [bent, *inner[1:]]}


@dataclass(frozen=True)
class Stamp:
    """A request's timestamp: ``offset`` seconds from the moment it is sent, or (``offset``
    None) the ``absurd`` text as it is. ``fresh``: inside the window every platform accepts."""

    offset: int | None
    absurd: str = ""

    @property
    def fresh(self) -> bool:
        return self.offset in FRESH_OFFSETS

    def unix(self, now: float) -> str:
        return self.absurd if self.offset is None else str(int(now) + self.offset)


# Seconds from now, kept well away from the windows' edges so the clock moving between
# signing and checking never decides. Discord and Slack accept 5 minutes into the past,
# Twitch 10; none more than 5 minutes into the future.
FRESH_OFFSETS = (0, -20, 20, -200, 200)
STALE_OFFSETS = (-(11 * 60), -3600, -86400 * 400, 8 * 60, 3600, 86400 * 400)


def stamps(absurd: st.SearchStrategy[str]) -> st.SearchStrategy[Stamp]:
    unusual = mostly(
        absurd.map(lambda text: Stamp(None, text)), st.sampled_from(STALE_OFFSETS).map(Stamp), 3
    )
    return mostly(st.sampled_from(FRESH_OFFSETS).map(Stamp), unusual, one_in=3)


ABSURD_UNIX = (
    "",
    "-1",
    "0",
    "9" * 30,
    "1" + "0" * 400,  # too large for a float
    "-" + "9" * 400,
    "9" * 5000,  # more digits than int() reads
    "1.5e9",
    "NaN",
    "0x10",
    "+1700000000",
    "1_700_000_000",
)


def unix_stamps() -> st.SearchStrategy[Stamp]:
    """``X-Signature-Timestamp`` / ``X-Slack-Request-Timestamp``: Unix seconds, or not."""
    absurd = mostly(
        st.sampled_from(ABSURD_UNIX), st.one_of(st.integers().map(str), header_text()), 3
    )
    return stamps(absurd)
