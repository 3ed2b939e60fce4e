"""A fake Discord speaking the real wire protocol on loopback: REST API v10 with rate limits,
the gateway WebSocket (JSON, zlib-stream), and signed requests to a bot's HTTP interactions
endpoint. See ``server.FakeDiscord``.

Pointing py-cord at it (py-cord 2.8): set ``discord.http.Route.API_BASE_URL`` to
``fake.api_url`` (a class attribute; monkeypatch it). Login (``GET /users/@me``) and the
gateway URL (``GET /gateway``, or ``GET /gateway/bot`` for ``AutoShardedClient``) then come from
the fake, and py-cord connects to ``ws://127.0.0.1:PORT/gateway?encoding=json&v=10&compress=
zlib-stream``: it always asks for zlib-stream transport compression (no client option turns it
off), so the fake compresses with one zlib stream per connection, each message ending in
``Z_SYNC_FLUSH`` (``00 00 ff ff``). Pass ``guild_ready_timeout`` small (it waits that long after
the last GUILD_CREATE before ``on_ready``) and ``cache_default_sounds=False`` if you do not want
``GET /soundboard-default-sounds`` (the fake answers it with ``[]``).
"""

from . import payloads, wire
from .gateway import Delivery, Session
from .interactions import Ed25519Keys, InteractionResult, InteractionSender
from .model import (
    Callback,
    Channel,
    Command,
    Guild,
    Interaction,
    Member,
    Message,
    Reaction,
    Registration,
    Role,
    User,
)
from .ratelimit import REALISTIC_ROUTE_LIMITS
from .rest import Logged
from .server import FakeDiscord

__all__ = [
    "REALISTIC_ROUTE_LIMITS",
    "Callback",
    "Channel",
    "Command",
    "Delivery",
    "Ed25519Keys",
    "FakeDiscord",
    "Guild",
    "Interaction",
    "InteractionResult",
    "InteractionSender",
    "Logged",
    "Member",
    "Message",
    "Reaction",
    "Registration",
    "Role",
    "Session",
    "User",
    "payloads",
    "wire",
]
