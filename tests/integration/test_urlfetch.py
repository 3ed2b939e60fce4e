"""$(urlfetch): real HTTP against a local server on 127.0.0.1, and refusals before any connection.

Nothing here sends traffic anywhere but 127.0.0.1: blocked addresses must be refused before
httpx2's transport is ever called, which the ``sent`` spy checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx2
import pytest

from waddlebot.core.variables import ChainResolver, StandardVariables, VariableContext, render
from waddlebot.infra.urlfetch import BLOCKED, TIMED_OUT, UrlFetcher, is_public_address

Handler = Callable[["LocalServer", dict[str, str]], Awaitable[bytes]]


def reply(status: int, body: bytes = b"", **headers: str) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class LocalServer:
    """Minimal HTTP/1.1 on 127.0.0.1 that records every request it sees."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, *header_lines = head.decode("latin-1").split("\r\n")
            path = line.split(" ")[1]
            headers = {
                key.strip().lower(): value.strip()
                for key, _, value in (h.partition(":") for h in header_lines if h)
            }
            self.requests.append((path, headers))
            handler = self.routes.get(path)
            writer.write(await handler(self, headers) if handler else reply(404))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LocalServer]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def fixed(status: int, body: bytes = b"", **headers: str) -> Handler:
    async def handler(server: LocalServer, request_headers: dict[str, str]) -> bytes:
        return reply(status, body, **headers)

    return handler


def redirect(target: Callable[[LocalServer], str]) -> Handler:
    async def handler(server: LocalServer, request_headers: dict[str, str]) -> bytes:
        return reply(302, Location=target(server))

    return handler


async def slow(server: LocalServer, request_headers: dict[str, str]) -> bytes:
    await asyncio.sleep(10)
    return reply(200, b"too late")


async def echo_host(server: LocalServer, request_headers: dict[str, str]) -> bytes:
    return reply(200, request_headers.get("host", "").encode())


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[httpx2.URL]]:
    """Every request that reached httpx2's network transport (i.e. a connection attempt)."""
    seen: list[httpx2.URL] = []
    original = httpx2.AsyncHTTPTransport.handle_async_request

    async def spy(self: httpx2.AsyncHTTPTransport, request: httpx2.Request) -> httpx2.Response:
        seen.append(request.url)
        assert request.url.host == "127.0.0.1", f"traffic to {request.url} must never happen"
        return await original(self, request)

    monkeypatch.setattr(httpx2.AsyncHTTPTransport, "handle_async_request", spy)
    yield seen


@pytest.fixture
async def other() -> AsyncIterator[LocalServer]:
    """A second loopback server that must never be reached."""
    async with LocalServer({"/": fixed(200, b"should not be fetched")}).running() as server:
        yield server


@pytest.fixture
async def server(other: LocalServer) -> AsyncIterator[LocalServer]:
    routes: dict[str, Handler] = {
        "/": fixed(200, b"  hello world  \nsecond line\n", Content_Type="text/plain"),
        "/big": fixed(200, b"a" * 1_000_000),
        "/slow": slow,
        "/missing": fixed(404, b"nope"),
        "/gzip": fixed(200, b"\x1f\x8b", Content_Encoding="gzip"),
        "/host": echo_host,
        "/to-root": redirect(lambda s: "/"),
        "/loop": redirect(lambda s: "/loop"),
        "/to-other": redirect(lambda s: f"{other.url}/"),
        "/to-localhost": redirect(lambda s: f"http://localhost:{other.port}/"),
        "/to-metadata": redirect(lambda s: "http://169.254.169.254/latest/meta-data"),
        "/to-private": redirect(lambda s: "http://10.0.0.1/"),
        "/to-ftp": redirect(lambda s: "ftp://127.0.0.1/"),
    }
    async with LocalServer(routes).running() as running:
        yield running


def allowed(server: LocalServer, **options: float) -> UrlFetcher:
    return UrlFetcher(allow_loopback_for_tests=("127.0.0.1", server.port), **options)  # type: ignore[arg-type]


# --- the happy path --------------------------------------------------------------------------


async def test_first_line_stripped(server: LocalServer, sent: list[httpx2.URL]) -> None:
    assert await allowed(server).fetch(f"{server.url}/") == "hello world"
    assert len(sent) == 1


async def test_plugs_into_render_as_urlfetch_and_customapi(server: LocalServer) -> None:
    resolver = ChainResolver(StandardVariables(VariableContext(user="alice")), allowed(server))
    template = f"$(user): $(urlfetch {server.url}/) / ${{customapi '{server.url}/'}}"
    assert await render(template, resolver) == "alice: hello world / hello world"
    assert await allowed(server).resolve("user", []) is None
    assert await allowed(server).resolve("urlfetch", []) == "(urlfetch: missing url)"


async def test_large_body_is_capped(server: LocalServer) -> None:
    assert await allowed(server).fetch(f"{server.url}/big") == "a" * 4096
    assert await allowed(server, max_bytes=10).fetch(f"{server.url}/big") == "a" * 10


async def test_http_errors_and_encodings(server: LocalServer) -> None:
    assert await allowed(server).fetch(f"{server.url}/missing") == "(urlfetch: HTTP 404)"
    assert await allowed(server).fetch(f"{server.url}/gzip") == "(urlfetch: compressed response)"


async def test_slow_server_times_out(server: LocalServer) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await allowed(server, timeout=0.3).fetch(f"{server.url}/slow") == TIMED_OUT
    assert loop.time() - started < 2


async def test_redirect_within_the_allowed_server(server: LocalServer) -> None:
    assert await allowed(server).fetch(f"{server.url}/to-root") == "hello world"


async def test_redirect_loop_stops(server: LocalServer) -> None:
    out = await allowed(server).fetch(f"{server.url}/loop")
    assert out == "(urlfetch: too many redirects)"
    assert [path for path, _ in server.requests] == ["/loop"] * 4  # first hop + 3 redirects


async def test_connects_to_the_vetted_ip_with_the_real_host_name(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, sent: list[httpx2.URL]
) -> None:
    fetcher = allowed(server)
    looked_up: list[str] = []

    async def lookup(host: str, port: int) -> list[ipaddress.IPv4Address]:
        looked_up.append(host)
        return [ipaddress.IPv4Address("127.0.0.1")]

    monkeypatch.setattr(fetcher, "_lookup", lookup)
    assert await fetcher.fetch(f"http://Example.TEST:{server.port}/host") == (
        f"example.test:{server.port}"
    )
    assert looked_up == ["example.test"]
    assert [url.host for url in sent] == ["127.0.0.1"]


# --- refusals: nothing may be sent -----------------------------------------------------------


async def test_loopback_blocked_by_default(server: LocalServer, sent: list[httpx2.URL]) -> None:
    fetcher = UrlFetcher()
    for url in (
        f"{server.url}/",
        f"http://localhost:{server.port}/",
        f"http://[::ffff:127.0.0.1]:{server.port}/",
        f"http://2130706433:{server.port}/",  # 127.0.0.1 as one number
        "http://[::1]/",
        "http://0.0.0.0/",
    ):
        assert await fetcher.fetch(url) == BLOCKED, url
    assert server.requests == []
    assert sent == []


async def test_private_and_metadata_addresses_blocked(sent: list[httpx2.URL]) -> None:
    fetcher = UrlFetcher()
    for url in (
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "https://192.168.1.1/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://224.0.0.1/",
        "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
    ):
        assert await fetcher.fetch(url) == BLOCKED, url
    assert sent == []


async def test_test_allowance_is_exactly_one_ip_and_port(
    server: LocalServer, other: LocalServer, sent: list[httpx2.URL]
) -> None:
    fetcher = allowed(server)
    assert await fetcher.fetch(f"{other.url}/") == BLOCKED
    assert await fetcher.fetch(f"http://[::ffff:127.0.0.1]:{server.port}/") == BLOCKED
    assert other.requests == [] and server.requests == [] and sent == []
    with pytest.raises(ValueError):
        UrlFetcher(allow_loopback_for_tests=("10.0.0.1", 80))


async def test_any_blocked_address_among_the_answers_refuses(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, sent: list[httpx2.URL]
) -> None:
    fetcher = allowed(server)

    async def lookup(host: str, port: int) -> list[ipaddress.IPv4Address]:
        return [ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv4Address("10.0.0.1")]

    monkeypatch.setattr(fetcher, "_lookup", lookup)
    assert await fetcher.fetch(f"http://mixed.test:{server.port}/") == BLOCKED
    assert sent == [] and server.requests == []


@pytest.mark.parametrize(
    "path", ["/to-other", "/to-localhost", "/to-metadata", "/to-private", "/to-ftp"]
)
async def test_redirect_to_a_blocked_address_is_refused(
    path: str, server: LocalServer, other: LocalServer, sent: list[httpx2.URL]
) -> None:
    out = await allowed(server).fetch(f"{server.url}{path}")
    expected = "(urlfetch: only http and https)" if path == "/to-ftp" else BLOCKED
    assert out == expected
    assert [p for p, _ in server.requests] == [path]  # only the first, allowed hop
    assert other.requests == []
    assert [url.port for url in sent] == [server.port]


async def test_bad_urls(sent: list[httpx2.URL]) -> None:
    fetcher = UrlFetcher()
    assert await fetcher.fetch("ftp://127.0.0.1/") == "(urlfetch: only http and https)"
    assert await fetcher.fetch("file:///etc/passwd") == "(urlfetch: only http and https)"
    assert await fetcher.fetch("not a url") == "(urlfetch: only http and https)"
    assert await fetcher.fetch("http://user:pw@example.com/") == "(urlfetch: bad url)"
    assert await fetcher.fetch("http:///nohost") == "(urlfetch: bad url)"
    assert await fetcher.fetch("http://no-such-host.invalid/") == "(urlfetch: unknown host)"
    assert sent == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("2002:a00:1::", False),  # 6to4 around 10.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 around 127.0.0.1
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


async def test_https_request_keeps_the_name_for_sni_and_host() -> None:
    fetcher = UrlFetcher()
    async with httpx2.AsyncClient() as client:
        url = httpx2.URL("https://Example.com:8443/x?y=1")
        request = fetcher._request(client, url, "93.184.216.34")
        assert request.url == httpx2.URL("https://93.184.216.34:8443/x?y=1")
        assert request.headers["host"] == "example.com:8443"
        assert request.extensions["sni_hostname"] == "example.com"
        literal = fetcher._request(client, httpx2.URL("https://93.184.216.34/"), "93.184.216.34")
        assert "sni_hostname" not in literal.extensions
