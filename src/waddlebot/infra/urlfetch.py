"""``$(urlfetch URL)`` / ``$(customapi URL)``: a short plain-text GET for command responses.

The URL comes from chat users (through command authors), so this is a server-side request
forgery surface. Rules:

- http and https only, no credentials in the URL, no proxies from the environment;
- every address the host resolves to must be globally routable (no private, loopback,
  link-local, multicast, reserved or unspecified address, IPv4 or IPv6, including IPv4 hidden in
  IPv6: mapped, 6to4, Teredo, NAT64), else nothing is sent at all;
- the connection goes to the vetted IP itself, with the real name in ``Host`` and in the TLS
  SNI/certificate check, so a DNS answer that changes between check and connect (rebinding)
  cannot move the request;
- redirects are followed by hand, at most three, each hop vetted again;
- 5 s for everything, at most 4 KiB read, the first line returned.

Resolution and vetting are done here by hand because httpx2 offers no hook to inspect or veto
the address it is about to connect to: its transport resolves and connects in one step.

:class:`UrlFetcher` never raises; failures come back as short ``(urlfetch: …)`` texts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx2
import structlog

log = structlog.get_logger(__name__)

NAMES = frozenset({"urlfetch", "customapi", "readapi"})
BLOCKED = "(urlfetch: blocked address)"
TIMED_OUT = "(urlfetch: timed out)"
BAD_URL = "(urlfetch: bad url)"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """An IPv4 address carried inside an IPv6 one (mapped, 6to4, Teredo client, NAT64)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in network for network in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and not is_public_address(inner):
            return False
        if ip.ipv4_mapped is not None:
            return True
    special = (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
    return ip.is_global and not special


class _Refused(Exception):
    """A request we will not make or finish; ``text`` is what the chat sees."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _check_url(raw: str | httpx2.URL) -> httpx2.URL:
    try:
        url = httpx2.URL(raw)
    except Exception as exc:  # httpx2.InvalidURL and friends
        raise _Refused(BAD_URL) from exc
    if url.scheme not in _DEFAULT_PORTS:
        raise _Refused("(urlfetch: only http and https)")
    if not url.raw_host or url.userinfo:
        raise _Refused(BAD_URL)
    return url


class UrlFetcher:
    """Resolver for ``urlfetch``/``customapi``/``readapi``; plugs into ``ChainResolver``."""

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        max_bytes: int = 4096,
        max_redirects: int = 3,
        allow_loopback_for_tests: tuple[str, int] | None = None,
    ) -> None:
        """``allow_loopback_for_tests=(ip, port)`` lets exactly one loopback IP and port through
        (a test server); it is refused for any non-loopback address and is off by default."""
        if allow_loopback_for_tests is not None:
            ip = ipaddress.ip_address(allow_loopback_for_tests[0])
            if not ip.is_loopback:
                raise ValueError("allow_loopback_for_tests only takes a loopback address")
            allow_loopback_for_tests = (str(ip), allow_loopback_for_tests[1])
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._test_allow = allow_loopback_for_tests

    async def resolve(self, name: str, args: list[str]) -> str | None:
        if name.lower() not in NAMES:
            return None
        if args and args[0].lower() == "json" and len(args) > 1:  # Nightbot's form
            args = args[1:]
        if not args:
            return "(urlfetch: missing url)"
        return await self.fetch(args[0])

    async def fetch(self, url: str) -> str:
        """The first line of the response body, or a ``(urlfetch: …)`` text. Never raises."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._fetch(url)
        except _Refused as refused:
            return refused.text
        except (TimeoutError, httpx2.TimeoutException):
            return TIMED_OUT
        except Exception as exc:
            log.info("urlfetch_failed", error=type(exc).__name__)
            return "(urlfetch: request failed)"

    async def _fetch(self, raw_url: str) -> str:
        url = _check_url(raw_url)
        async with httpx2.AsyncClient(
            follow_redirects=False, trust_env=False, timeout=self._timeout
        ) as client:
            for _ in range(self._max_redirects + 1):
                ip = await self._vet(url)
                response = await client.send(self._request(client, url, ip), stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        url = _check_url(url.join(location))
                        continue
                    if response.status_code >= 400:
                        raise _Refused(f"(urlfetch: HTTP {response.status_code})")
                    if response.headers.get("content-encoding", "identity") != "identity":
                        raise _Refused("(urlfetch: compressed response)")
                    body = await self._read(response)
                finally:
                    await response.aclose()
                text = body.decode(response.charset_encoding or "utf-8", errors="replace")
                lines = text.splitlines()
                return lines[0].strip() if lines else ""
        raise _Refused("(urlfetch: too many redirects)")

    def _request(self, client: httpx2.AsyncClient, url: httpx2.URL, ip: str) -> httpx2.Request:
        host = url.raw_host.decode("ascii")
        extensions = {}
        if url.scheme == "https" and not _is_ip(host):
            extensions["sni_hostname"] = host  # also the name the certificate is checked for
        return client.build_request(
            "GET",
            url.copy_with(host=ip),
            headers={
                "Host": url.netloc.decode("ascii"),
                "Accept": "text/plain, */*;q=0.5",
                "Accept-Encoding": "identity",
                "User-Agent": "WaddleBot-urlfetch/1",
            },
            extensions=extensions,
        )

    async def _read(self, response: httpx2.Response) -> bytes:
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) >= self._max_bytes:
                break
        return bytes(body[: self._max_bytes])

    async def _vet(self, url: httpx2.URL) -> str:
        """The IP to connect to; refused unless every address of the host is allowed."""
        host = url.raw_host.decode("ascii")
        port = url.port or _DEFAULT_PORTS[url.scheme]
        if _is_ip(host):
            addresses = [ipaddress.ip_address(host)]
        else:
            addresses = await self._lookup(host, port)
        if not addresses:
            raise _Refused("(urlfetch: unknown host)")
        for address in addresses:
            if not self._allowed(address, port):
                raise _Refused(BLOCKED)
        return str(addresses[0])

    async def _lookup(self, host: str, port: int) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise _Refused("(urlfetch: unknown host)") from exc
        found: list[IPAddress] = []
        for *_, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in found:
                found.append(address)
        return found

    def _allowed(self, address: IPAddress, port: int) -> bool:
        if self._test_allow is not None and (str(address), port) == self._test_allow:
            return True
        return is_public_address(address)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
