"""Twitch Helix: the API calls WaddleBot makes (chat, whispers, users, clips, shoutouts,
streams, EventSub subscriptions and conduits).

Written on httpx2 rather than with a Twitch library: WaddleBot keeps its
own books on Helix's rate limits for each token (the app token and every user token have a
bucket of their own, reported in ``Ratelimit-*`` headers), must see ``is_sent`` and
``drop_reason`` of Send Chat Message as data rather than have them hidden or raised, and
stores the tokens itself (encrypted, per account, shared by every process), which a
library's own token handling would fight.

Every call sends ``Authorization: Bearer`` and ``Client-Id``. A 401 renews the token once and
tries again. Once a token's bucket is empty (``Ratelimit-Remaining: 0``), the next call on it
waits until ``Ratelimit-Reset``; a 429 waits the same way and tries again, three tries in
all. A 5xx answer or a network error raises a transient :class:`HelixError` for the caller
to retry; any other 4xx a permanent one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx2
import structlog

from waddlebot.infra import metrics

log = structlog.get_logger("waddlebot.twitch.helix")

MAX_THROTTLED_TRIES = 3  # 429s in a row before giving up
MIN_429_WAIT = 1.0  # Ratelimit-Reset has a one-second resolution, and clocks differ
MAX_RESET_WAIT = 60.0  # the bucket refills within a minute; more means clocks disagree
USERS_PER_CALL = 100


class TokenSource(Protocol):
    async def app_token(self, *, renew: bool = False) -> str: ...

    async def user_token(self, account_id: str, *, renew: bool = False) -> str: ...


class HelixError(Exception):
    """A Helix call failed. ``transient``: worth trying again later (5xx, network trouble,
    rate limits); otherwise Twitch refused the request itself (``status`` 4xx)."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


@dataclass(frozen=True, slots=True)
class HelixUser:
    id: str
    login: str
    display_name: str
    type: str
    broadcaster_type: str
    description: str
    profile_image_url: str
    offline_image_url: str
    created_at: str


@dataclass(frozen=True, slots=True)
class ChatSendResult:
    message_id: str
    is_sent: bool
    drop_code: str = ""
    drop_message: str = ""


@dataclass(frozen=True, slots=True)
class Clip:
    id: str
    url: str
    embed_url: str
    broadcaster_id: str
    broadcaster_name: str
    creator_id: str
    creator_name: str
    game_id: str
    title: str
    view_count: int
    created_at: str
    thumbnail_url: str
    duration: float


@dataclass(frozen=True, slots=True)
class ClipPage:
    clips: list[Clip]
    cursor: str | None  # pass as ``after`` for the next page; None on the last one


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """Get Channel Information: the channel's category is the last one streamed."""

    broadcaster_id: str
    broadcaster_login: str
    broadcaster_name: str
    game_id: str
    game_name: str
    title: str


@dataclass(frozen=True, slots=True)
class StreamInfo:
    id: str
    user_id: str
    user_login: str
    user_name: str
    game_id: str
    game_name: str
    title: str
    viewer_count: int
    started_at: datetime


@dataclass(frozen=True, slots=True)
class Conduit:
    id: str
    shard_count: int


@dataclass(frozen=True, slots=True)
class ConduitShard:
    id: int
    status: str  # enabled, websocket_disconnected, ...
    method: str  # websocket or webhook ("" before it was ever assigned)
    session_id: str  # the WebSocket session it delivers to ("" for webhooks)


@dataclass(frozen=True, slots=True)
class _As:
    """Whose token a call uses: the app's (``account`` None) or a user's."""

    account: str | None = None

    @property
    def label(self) -> str:
        return "app" if self.account is None else "user"


APP = _As()


@dataclass(slots=True)
class _Bucket:
    """What Twitch last said about one token's points; ``remaining`` None when unknown."""

    remaining: int | None = None
    reset: float = 0.0

    def update(self, headers: httpx2.Headers) -> None:
        try:
            remaining = int(headers["Ratelimit-Remaining"])
            reset = float(headers["Ratelimit-Reset"])
        except (KeyError, ValueError):
            return
        self.remaining, self.reset = remaining, reset


class HelixClient:
    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        base_url: str,
        client_id: str,
        tokens: TokenSource,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._client_id = client_id
        self._tokens = tokens
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[_As, _Bucket] = {}

    # --- users, streams, clips ----------------------------------------------------------------

    async def get_users(
        self, ids: Iterable[str] = (), logins: Iterable[str] = ()
    ) -> list[HelixUser]:
        """Users by id and/or login (any number; Twitch takes 100 per call). Unknown ones are
        simply missing from the answer."""
        wanted = [("id", i) for i in ids] + [("login", name) for name in logins]
        users: list[HelixUser] = []
        for start in range(0, len(wanted), USERS_PER_CALL):
            batch = wanted[start : start + USERS_PER_CALL]
            params = {key: [value for k, value in batch if k == key] for key in ("id", "login")}
            response = await self._request("GET", "/users", APP, params=params)
            users.extend(_user(item) for item in _data(response))
        return users

    async def get_stream(self, user_id: str) -> StreamInfo | None:
        """The broadcaster's live stream; None when they are offline."""
        response = await self._request("GET", "/streams", APP, params={"user_id": user_id})
        found = _data(response)
        return _stream(found[0]) if found else None

    async def get_channel(self, broadcaster_id: str) -> ChannelInfo | None:
        """The channel's information; None for an unknown broadcaster."""
        response = await self._request(
            "GET", "/channels", APP, params={"broadcaster_id": broadcaster_id}
        )
        found = _data(response)
        return _channel(found[0]) if found else None

    async def get_clips(
        self,
        broadcaster_id: str,
        *,
        first: int = 20,
        after: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ClipPage:
        """The broadcaster's clips, most viewed first; ``since``/``until``: made in that
        window (Twitch ends a window a week after its start unless told otherwise, so give
        both)."""
        params: dict[str, str | int] = {"broadcaster_id": broadcaster_id, "first": first}
        if after:
            params["after"] = after
        if since is not None:
            params["started_at"] = _rfc3339(since)
        if until is not None:
            params["ended_at"] = _rfc3339(until)
        response = await self._request("GET", "/clips", APP, params=params)
        return ClipPage([_clip(item) for item in _data(response)], _cursor(response))

    # --- talking ------------------------------------------------------------------------------

    async def send_chat_message(
        self,
        broadcaster_id: str,
        sender_id: str,
        message: str,
        *,
        reply_parent_message_id: str | None = None,
    ) -> ChatSendResult:
        """Say ``message`` (at most 500 characters) in the broadcaster's chat with the
        sender's user token. Twitch may accept the call and still not send the message:
        ``is_sent`` False, with the drop reason."""
        body = {"broadcaster_id": broadcaster_id, "sender_id": sender_id, "message": message}
        if reply_parent_message_id:
            body["reply_parent_message_id"] = reply_parent_message_id
        response = await self._request("POST", "/chat/messages", _As(sender_id), json=body)
        found = _data(response)
        if not found:
            raise HelixError("Send Chat Message answered without data", status=200)
        item = found[0]
        found_reason = item.get("drop_reason")
        reason: Mapping[str, Any] = found_reason if isinstance(found_reason, Mapping) else {}
        return ChatSendResult(
            message_id=str(item.get("message_id") or ""),
            is_sent=item.get("is_sent") is True,
            drop_code=str(reason.get("code") or ""),
            drop_message=str(reason.get("message") or ""),
        )

    async def send_whisper(self, from_user_id: str, to_user_id: str, message: str) -> None:
        """Whisper with the sender's user token. Twitch answers 204 even when it drops the
        whisper; its own limits (3/s, 100/min, 40 new recipients a day) come back as 429."""
        await self._request(
            "POST",
            "/whispers",
            _As(from_user_id),
            params={"from_user_id": from_user_id, "to_user_id": to_user_id},
            json={"message": message},
        )

    async def send_shoutout(
        self, from_broadcaster_id: str, to_broadcaster_id: str, moderator_id: str
    ) -> None:
        """A shoutout, with the moderator's user token (the broadcaster counts as one). Twitch
        allows one per 2 minutes, and one per hour to the same target: 429 otherwise."""
        await self._request(
            "POST",
            "/chat/shoutouts",
            _As(moderator_id),
            params={
                "from_broadcaster_id": from_broadcaster_id,
                "to_broadcaster_id": to_broadcaster_id,
                "moderator_id": moderator_id,
            },
        )

    # --- EventSub subscriptions ---------------------------------------------------------------

    async def create_subscription(
        self,
        type: str,
        version: str,
        condition: Mapping[str, str],
        transport: Mapping[str, str],
        *,
        user_token_of: str | None = None,
    ) -> dict[str, Any]:
        """Create a subscription; returns it as Twitch shows it. Webhook transports use the
        app token; a WebSocket transport needs ``user_token_of`` (the session's user)."""
        body = {
            "type": type,
            "version": version,
            "condition": dict(condition),
            "transport": dict(transport),
        }
        response = await self._request(
            "POST", "/eventsub/subscriptions", _As(user_token_of), json=body
        )
        found = _data(response)
        if not found:
            raise HelixError("Create EventSub Subscription answered without data", status=202)
        return found[0]

    async def list_subscriptions(
        self, status: str | None = None, *, user_token_of: str | None = None
    ) -> list[dict[str, Any]]:
        """Every subscription the token sees (all pages): the app token sees the webhook
        ones, a user token the WebSocket ones of that user."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"status": status} if status else {}
            if cursor:
                params["after"] = cursor
            response = await self._request(
                "GET", "/eventsub/subscriptions", _As(user_token_of), params=params
            )
            found.extend(_data(response))
            cursor = _cursor(response)
            if not cursor:
                return found

    async def delete_subscription(
        self, subscription_id: str, *, user_token_of: str | None = None
    ) -> bool:
        """True when it was deleted; False when Twitch does not know it (any more)."""
        try:
            await self._request(
                "DELETE",
                "/eventsub/subscriptions",
                _As(user_token_of),
                params={"id": subscription_id},
            )
        except HelixError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # --- EventSub conduits (app token) -------------------------------------------------------

    async def list_conduits(self) -> list[Conduit]:
        """The client id's conduits (Twitch allows five)."""
        response = await self._request("GET", "/eventsub/conduits", APP)
        return [_conduit(item) for item in _data(response)]

    async def create_conduit(self, shard_count: int) -> Conduit:
        response = await self._request(
            "POST", "/eventsub/conduits", APP, json={"shard_count": shard_count}
        )
        found = _data(response)
        if not found:
            raise HelixError("Create Conduits answered without data", status=200)
        return _conduit(found[0])

    async def update_conduit(self, conduit_id: str, shard_count: int) -> Conduit:
        """Change the number of shards (fewer: the shards at the end are gone)."""
        body = {"id": conduit_id, "shard_count": shard_count}
        response = await self._request("PATCH", "/eventsub/conduits", APP, json=body)
        found = _data(response)
        if not found:
            raise HelixError("Update Conduits answered without data", status=200)
        return _conduit(found[0])

    async def list_conduit_shards(self, conduit_id: str) -> list[ConduitShard]:
        """Every shard of the conduit (all pages), with its status and transport."""
        shards: list[ConduitShard] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"conduit_id": conduit_id}
            if cursor:
                params["after"] = cursor
            response = await self._request("GET", "/eventsub/conduits/shards", APP, params=params)
            shards.extend(_shard(item) for item in _data(response))
            cursor = _cursor(response)
            if not cursor:
                return shards

    async def assign_shard(self, conduit_id: str, shard_id: int, session_id: str) -> ConduitShard:
        """Point one shard at a WebSocket session. Twitch answers per shard: a refused one
        comes back in ``errors`` (raised here as a permanent :class:`HelixError`)."""
        transport = {"method": "websocket", "session_id": session_id}
        body = {"conduit_id": conduit_id, "shards": [{"id": str(shard_id), "transport": transport}]}
        response = await self._request("PATCH", "/eventsub/conduits/shards", APP, json=body)
        errors = _body(response).get("errors")
        for error in errors if isinstance(errors, list) else []:
            if isinstance(error, dict) and str(error.get("id")) == str(shard_id):
                raise HelixError(
                    f"shard {shard_id}: {error.get('code')}: {error.get('message')}", status=400
                )
        for item in _data(response):
            if str(item.get("id")) == str(shard_id):
                return _shard(item)
        raise HelixError(f"Update Conduit Shards did not answer for shard {shard_id}", status=202)

    # --- the request itself -------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        who: _As,
        *,
        params: Mapping[str, str | int | Sequence[str]] | None = None,
        json: Any = None,
    ) -> httpx2.Response:
        bucket = self._buckets.setdefault(who, _Bucket())
        renew = renewed = False
        throttled = 0
        while True:
            await self._take_point(bucket, who)
            token = await self._token(who, renew)
            renew = False
            try:
                response = await self._http.request(
                    method,
                    f"{self._base}{path}",
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {token}", "Client-Id": self._client_id},
                )
            except httpx2.TransportError as exc:
                raise HelixError(f"{method} {path}: {exc!r}", transient=True) from exc
            bucket.update(response.headers)
            status = response.status_code
            if status == 401 and not renewed:
                log.info("helix refused the token; renewing it", path=path, token=who.label)
                renew = renewed = True
                continue
            if status == 429 and _bucket_empty(response):
                throttled += 1
                metrics.TWITCH_HELIX_THROTTLED.labels(who.label).inc()
                if throttled >= MAX_THROTTLED_TRIES:
                    raise HelixError(
                        f"{method} {path}: still rate limited after {throttled} tries",
                        status=429,
                        transient=True,
                    )
                wait = min(max(bucket.reset - self._clock(), MIN_429_WAIT), MAX_RESET_WAIT)
                log.warning("helix rate limit hit; waiting", path=path, token=who.label, wait=wait)
                await self._sleep(wait)
                bucket.remaining = None
                continue
            if status >= 400:
                raise HelixError(
                    f"{method} {path}: {status} {_message(response)}",
                    status=status,
                    transient=status >= 500 or status == 429,
                )
            return response

    async def _take_point(self, bucket: _Bucket, who: _As) -> None:
        """Wait for the bucket to refill if Twitch said it is empty, then count this call
        (so concurrent calls on one token do not all spend the last point)."""
        if bucket.remaining is not None and bucket.remaining <= 0:
            wait = min(bucket.reset - self._clock(), MAX_RESET_WAIT)
            if wait > 0:
                log.info("helix points used up; waiting", token=who.label, wait=wait)
                await self._sleep(wait)
            bucket.remaining = None  # full again; the next answer says how full
        if bucket.remaining is not None:
            bucket.remaining -= 1

    async def _token(self, who: _As, renew: bool) -> str:
        if who.account is None:
            return await self._tokens.app_token(renew=renew)
        return await self._tokens.user_token(who.account, renew=renew)


def _bucket_empty(response: httpx2.Response) -> bool:
    """Whether a 429 is the token's point bucket (``Ratelimit-Remaining: 0``, or no headers)
    rather than an endpoint's own limit, such as whispers per minute or shoutouts."""
    remaining = response.headers.get("Ratelimit-Remaining")
    return remaining is None or remaining.strip() == "0"


def _body(response: httpx2.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise HelixError(
            f"{response.request.method} {response.request.url.path}: the answer is not a JSON "
            "object",
            status=response.status_code,
        )
    return body


def _data(response: httpx2.Response) -> list[dict[str, Any]]:
    data = _body(response).get("data")
    if not isinstance(data, list):
        return []
    return [item for item in data if isinstance(item, dict)]


def _cursor(response: httpx2.Response) -> str | None:
    pagination = _body(response).get("pagination")
    cursor = pagination.get("cursor") if isinstance(pagination, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None


def _message(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")
    return ""


def _str(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    return value if isinstance(value, str) else ""


def _int(item: Mapping[str, Any], key: str) -> int:
    value = item.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _user(item: Mapping[str, Any]) -> HelixUser:
    return HelixUser(
        id=_str(item, "id"),
        login=_str(item, "login"),
        display_name=_str(item, "display_name"),
        type=_str(item, "type"),
        broadcaster_type=_str(item, "broadcaster_type"),
        description=_str(item, "description"),
        profile_image_url=_str(item, "profile_image_url"),
        offline_image_url=_str(item, "offline_image_url"),
        created_at=_str(item, "created_at"),
    )


def _clip(item: Mapping[str, Any]) -> Clip:
    duration = item.get("duration")
    return Clip(
        id=_str(item, "id"),
        url=_str(item, "url"),
        embed_url=_str(item, "embed_url"),
        broadcaster_id=_str(item, "broadcaster_id"),
        broadcaster_name=_str(item, "broadcaster_name"),
        creator_id=_str(item, "creator_id"),
        creator_name=_str(item, "creator_name"),
        game_id=_str(item, "game_id"),
        title=_str(item, "title"),
        view_count=_int(item, "view_count"),
        created_at=_str(item, "created_at"),
        thumbnail_url=_str(item, "thumbnail_url"),
        duration=float(duration) if isinstance(duration, int | float) else 0.0,
    )


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _channel(item: Mapping[str, Any]) -> ChannelInfo:
    return ChannelInfo(
        broadcaster_id=_str(item, "broadcaster_id"),
        broadcaster_login=_str(item, "broadcaster_login"),
        broadcaster_name=_str(item, "broadcaster_name"),
        game_id=_str(item, "game_id"),
        game_name=_str(item, "game_name"),
        title=_str(item, "title"),
    )


def _stream(item: Mapping[str, Any]) -> StreamInfo:
    try:
        started_at = datetime.fromisoformat(_str(item, "started_at"))
    except ValueError as exc:
        raise HelixError("Get Streams answered a stream without a valid started_at") from exc
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=UTC)
    return StreamInfo(
        id=_str(item, "id"),
        user_id=_str(item, "user_id"),
        user_login=_str(item, "user_login"),
        user_name=_str(item, "user_name"),
        game_id=_str(item, "game_id"),
        game_name=_str(item, "game_name"),
        title=_str(item, "title"),
        viewer_count=_int(item, "viewer_count"),
        started_at=started_at,
    )


def _conduit(item: Mapping[str, Any]) -> Conduit:
    return Conduit(id=_str(item, "id"), shard_count=_int(item, "shard_count"))


def _shard(item: Mapping[str, Any]) -> ConduitShard:
    transport = item.get("transport")
    transport = transport if isinstance(transport, Mapping) else {}
    try:
        shard_id = int(str(item.get("id")))
    except ValueError as exc:
        raise HelixError(f"a conduit shard with the id {item.get('id')!r}") from exc
    return ConduitShard(
        id=shard_id,
        status=_str(item, "status"),
        method=_str(transport, "method"),
        session_id=_str(transport, "session_id"),
    )
