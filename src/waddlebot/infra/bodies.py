"""Reading a request body with a size cap, for endpoints anyone can reach (module calls,
platform webhooks): the signature can only be checked once the body is in, so a huge body
must be refused before it is read whole."""

from __future__ import annotations

from starlette.requests import Request


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The raw body, or None when it is (or says it is) larger than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
