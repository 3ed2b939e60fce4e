"""The ``ai`` module's settings for talking in chat beyond ``!ai``: greetings, auto-replies and
links (``!module config ai KEY VALUE``; docs/ai.md). Part of the module's CONFIG_SCHEMA."""

from __future__ import annotations

from typing import Any

from waddlebot.core.events import EventType

# what a greeting may welcome, by the event type's name as communities write it
GREETED = (
    EventType.FOLLOW,
    EventType.SUBSCRIBE,
    EventType.GIFT_SUBSCRIBE,
    EventType.RAID,
    EventType.BOOST,
)

CHAT_PROPERTIES: dict[str, Any] = {
    "allow_links": {
        "type": "boolean",
        "default": False,
        "description": "whether answers may carry links (else they are removed)",
    },
    "greet": {
        "type": "array",
        "items": {"enum": [kind.value for kind in GREETED]},
        "uniqueItems": True,
        "default": [],
        "description": "the events greeted by a line the model writes (none by default)",
    },
    "auto_reply_channels": {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": 256},
        "uniqueItems": True,
        "maxItems": 50,
        "default": [],
        "description": "channels (ids, or the place's entity id) where the bot joins in unasked",
    },
    "auto_reply_share": {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "default": 0.1,
        "description": "the share of chat lines there the bot answers unasked",
    },
    "auto_reply_cooldown_seconds": {
        "type": "integer",
        "minimum": 0,
        "maximum": 86400,
        "default": 300,
        "description": "the least time between two unasked answers in one channel",
    },
}
