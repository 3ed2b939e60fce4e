"""What a module asks a community for (its permissions and the events it reads), in words,
for ``!module`` and the portal."""

from __future__ import annotations

from waddlebot.core.manifest import Permission

ASKS = {
    Permission.CHAT_SEND: "post in chat",
    Permission.CHAT_WHISPER: "whisper people",
    Permission.OVERLAY: "update your overlays",
}


def asked(items: tuple[str, ...]) -> list[str]:
    """Permissions and event types as what they let a module do (``post in chat``, ``read
    follow events``)."""
    return [
        ASKS.get(Permission(i), i) if i in Permission.__members__.values() else f"read {i} events"
        for i in items
    ]
