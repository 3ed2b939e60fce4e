"""Reading a request body with a size cap, for endpoints anyone can reach (module calls,
platform webhooks): the signature can only be checked once the body is in, so a huge body
must be refused before it is read whole."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

_LENGTH = b"content-length"


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The raw body, or None when it is (or says it is) larger than ``limit`` bytes.

    Read from the server's messages directly, as ``Request.stream`` does, without its
    generator or the header lookups of ``Request.headers`` (the webhooks' hot path): the body
    is read once, by this, so nothing else reads the stream."""
    for name, value in request.scope["headers"]:
        if name == _LENGTH:
            if value.isdigit() and int(value) > limit:
                return None
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
