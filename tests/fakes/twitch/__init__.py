"""A fake Twitch speaking the real wire protocol on loopback: OAuth, Helix, EventSub over
WebSocket and webhooks. See ``server.FakeTwitch``."""

from . import payloads
from .delivery import Delivery
from .model import ChatRecord, Client, Clip, Subscription, Token, User, WhisperRecord
from .server import FakeTwitch
from .webhook import WebhookMessage, WebhookResult, WebhookSender

__all__ = [
    "ChatRecord",
    "Client",
    "Clip",
    "Delivery",
    "FakeTwitch",
    "Subscription",
    "Token",
    "User",
    "WebhookMessage",
    "WebhookResult",
    "WebhookSender",
    "WhisperRecord",
    "payloads",
]
