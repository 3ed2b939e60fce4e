"""A fake Slack speaking the real wire protocol on loopback: the Web API with Slack's errors and
rate limits, OAuth v2 installs, signed Events API and slash command requests to an app, slash
command ``response_url``s, and Socket Mode. See ``server.FakeSlack``.

Pointing slack-sdk at it: ``AsyncWebClient(token=team.bot_token, base_url=fake.api_url)``; for
Socket Mode, ``SocketModeClient(app_token=fake.app_token, web_client=AsyncWebClient(
base_url=fake.api_url))`` — the client gets its ``ws://`` URL from ``apps.connections.open``.
Verify what the fake sends with ``SignatureVerifier(fake.signing_secret)``.
"""

from . import payloads, wire
from .events import UrlVerification
from .http_sender import Delivery, Tamper
from .model import Call, Channel, PostedMessage, SlashCommand, Team, User
from .oauth import AuthorizeError
from .server import FakeSlack
from .socket_mode import Ack, Envelope

__all__ = [
    "Ack",
    "AuthorizeError",
    "Call",
    "Channel",
    "Delivery",
    "Envelope",
    "FakeSlack",
    "PostedMessage",
    "SlashCommand",
    "Tamper",
    "Team",
    "UrlVerification",
    "User",
    "payloads",
    "wire",
]
