"""What the fake Twitch knows: apps, users, tokens, streams, clips, subscriptions, and what the
bot sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .wire import rfc3339_seconds


@dataclass
class User:
    id: str
    login: str = ""
    display_name: str = ""
    broadcaster_type: str = ""  # "", "affiliate" or "partner"
    moderator_of: set[str] = field(default_factory=set)
    description: str = ""
    created_at: str = "2016-12-14T20:32:28Z"
    # the channel's information (Get Channel Information): the last category streamed
    game_id: str = ""
    game_name: str = ""
    title: str = ""

    def __post_init__(self) -> None:
        self.login = self.login or f"user{self.id}"
        self.display_name = self.display_name or self.login

    def can_moderate(self, channel_id: str) -> bool:
        return channel_id == self.id or channel_id in self.moderator_of

    def helix(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "login": self.login,
            "display_name": self.display_name,
            "type": "",
            "broadcaster_type": self.broadcaster_type,
            "description": self.description,
            "profile_image_url": f"https://static-cdn.jtvnw.net/user-default-pictures/{self.id}.png",
            "offline_image_url": "",
            "view_count": 0,
            "created_at": self.created_at,
        }

    def channel(self) -> dict[str, Any]:
        return {
            "broadcaster_id": self.id,
            "broadcaster_login": self.login,
            "broadcaster_name": self.display_name,
            "broadcaster_language": "en",
            "game_id": self.game_id,
            "game_name": self.game_name,
            "title": self.title,
            "delay": 0,
            "tags": [],
            "content_classification_labels": [],
            "is_branded_content": False,
        }


@dataclass
class Client:
    client_id: str
    secret: str
    redirect_uris: tuple[str, ...] = ()  # empty: any redirect URI is accepted


@dataclass
class Token:
    access_token: str
    client_id: str
    user_id: str | None  # None for an app access token
    scopes: tuple[str, ...]
    expires_at: float
    refresh_token: str | None = None
    revoked: bool = False
    validate_calls: int = 0

    @property
    def is_app(self) -> bool:
        return self.user_id is None


@dataclass
class Stream:
    user_id: str
    id: str
    title: str
    game_id: str
    game_name: str
    viewer_count: int
    started_at: float
    language: str = "en"
    tags: list[str] = field(default_factory=list)

    def helix(self, user: User) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "user_login": user.login,
            "user_name": user.display_name,
            "game_id": self.game_id,
            "game_name": self.game_name,
            "type": "live",
            "title": self.title,
            "tags": self.tags,
            "viewer_count": self.viewer_count,
            "started_at": rfc3339_seconds(self.started_at),
            "language": self.language,
            "thumbnail_url": (
                f"https://static-cdn.jtvnw.net/previews-ttv/live_user_{user.login}-{{width}}x{{height}}.jpg"
            ),
            "tag_ids": [],
            "is_mature": False,
        }


@dataclass
class Clip:
    id: str
    broadcaster_id: str
    title: str
    game_id: str = ""
    creator_id: str = ""
    view_count: int = 0
    duration: float = 30.0
    created_at: float = 1_700_000_000.0  # Unix seconds

    def helix(self, broadcaster: User, creator: User | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"https://clips.twitch.tv/{self.id}",
            "embed_url": f"https://clips.twitch.tv/embed?clip={self.id}",
            "broadcaster_id": self.broadcaster_id,
            "broadcaster_name": broadcaster.display_name,
            "creator_id": self.creator_id,
            "creator_name": creator.display_name if creator else "",
            "video_id": "",
            "game_id": self.game_id,
            "language": "en",
            "title": self.title,
            "view_count": self.view_count,
            "created_at": rfc3339_seconds(self.created_at),
            "thumbnail_url": f"https://clips-media-assets2.twitch.tv/{self.id}-preview-480x272.jpg",
            "duration": self.duration,
            "vod_offset": None,
            "is_featured": False,
        }


@dataclass
class ChatRecord:
    """One Send Chat Message request the fake answered, accepted or dropped."""

    message_id: str
    channel_id: str
    sender_id: str
    text: str
    reply_parent_message_id: str | None
    at: float
    is_sent: bool
    drop_reason: dict[str, str] | None


@dataclass
class WhisperRecord:
    from_user_id: str
    to_user_id: str
    text: str
    at: float


@dataclass
class ShoutoutRecord:
    from_broadcaster_id: str
    to_broadcaster_id: str
    moderator_id: str
    at: float


@dataclass
class Subscription:
    id: str
    type: str
    version: str
    condition: dict[str, str]
    transport: dict[str, str]  # includes the webhook secret, which is never shown
    created_at: str
    cost: int
    status: str
    client_id: str
    user_id: str | None  # the user token's user (WebSocket transport)
    connected_at: str | None = None  # the WebSocket connection's, shown by Helix
    consecutive_failures: int = 0

    @property
    def method(self) -> str:
        return self.transport["method"]

    def public(self, helix: bool = False) -> dict[str, Any]:
        """The subscription as Twitch shows it (``helix``: in a Helix answer, not a message)."""
        transport = {k: v for k, v in self.transport.items() if k != "secret"}
        if helix and self.connected_at:
            transport["connected_at"] = self.connected_at
        return {
            "id": self.id,
            "status": self.status,
            "type": self.type,
            "version": self.version,
            "condition": dict(self.condition),
            "created_at": self.created_at,
            "transport": transport,
            "cost": self.cost,
        }


@dataclass
class Shard:
    """One shard of a conduit: where its notifications go."""

    id: str
    # What Twitch shows for a shard never assigned is not documented: this fake says
    # disconnected, with an empty transport.
    status: str = "websocket_disconnected"
    transport: dict[str, str] = field(default_factory=dict)  # a webhook's secret is never shown

    @property
    def method(self) -> str:
        return self.transport.get("method", "")

    def public(self) -> dict[str, Any]:
        transport = {k: v for k, v in self.transport.items() if k != "secret"}
        return {"id": self.id, "status": self.status, "transport": transport}


@dataclass
class Conduit:
    id: str
    client_id: str
    shards: list[Shard] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "shard_count": len(self.shards)}

    def resize(self, shard_count: int) -> None:
        """Fewer shards: the last ones are gone; more: new ones, unassigned."""
        del self.shards[shard_count:]
        self.shards.extend(Shard(str(n)) for n in range(len(self.shards), shard_count))


@dataclass
class TwitchState:
    """Everything shared by the OAuth, Helix and EventSub halves of the fake."""

    clock: Callable[[], float]
    now_ns: Callable[[], int]
    clients: dict[str, Client] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    refresh_tokens: dict[str, Token] = field(default_factory=dict)
    # (client id, user id) -> scopes the user has granted that app
    grants: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    streams: dict[str, Stream] = field(default_factory=dict)
    clips: list[Clip] = field(default_factory=list)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    conduits: dict[str, Conduit] = field(default_factory=dict)
    chat_log: list[ChatRecord] = field(default_factory=list)
    # id -> channel of every chat message there is (emitted by tests or sent): the messages a
    # reply may hang from
    chat_messages: dict[str, str] = field(default_factory=dict)
    whispers: list[WhisperRecord] = field(default_factory=list)
    shoutouts: list[ShoutoutRecord] = field(default_factory=list)
    app_token_lifetime: int = 5_011_271
    user_token_lifetime: int = 14_400
    validate_calls: int = 0

    def user(self, user_id: str) -> User:
        """A known user, or a placeholder so payloads still have a login and name."""
        return self.users.get(user_id) or User(user_id)

    def user_by_login(self, login: str) -> User | None:
        return next((u for u in self.users.values() if u.login == login.lower()), None)

    def live_token(self, access_token: str) -> Token | None:
        token = self.tokens.get(access_token)
        if token is None or token.revoked or token.expires_at <= self.clock():
            return None
        return token

    def granted(self, client_id: str, user_id: str) -> set[str]:
        return self.grants.get((client_id, user_id), set())
