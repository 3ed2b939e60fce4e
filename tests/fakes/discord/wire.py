"""Small pieces of Discord's wire format: snowflakes, timestamps, constants and error bodies."""

from __future__ import annotations

import itertools
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse

API_VERSION = 10
DISCORD_EPOCH_MS = 1_420_070_400_000  # 2015-01-01T00:00:00Z, the epoch of Discord snowflakes

# --- gateway opcodes and close codes -----------------------------------------------------------

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

CLOSE_UNKNOWN_ERROR = 4000
CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_INVALID_SEQ = 4007
CLOSE_RATE_LIMITED = 4008
CLOSE_SESSION_TIMED_OUT = 4009
CLOSE_INVALID_SHARD = 4010
CLOSE_SHARDING_REQUIRED = 4011
CLOSE_INVALID_API_VERSION = 4012
CLOSE_INVALID_INTENTS = 4013
CLOSE_DISALLOWED_INTENTS = 4014

ZLIB_SUFFIX = b"\x00\x00\xff\xff"  # every zlib-stream message ends with a Z_SYNC_FLUSH

# --- gateway intents ---------------------------------------------------------------------------

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MODERATION = 1 << 2
GUILD_EXPRESSIONS = 1 << 3
GUILD_INTEGRATIONS = 1 << 4
GUILD_WEBHOOKS = 1 << 5
GUILD_INVITES = 1 << 6
GUILD_VOICE_STATES = 1 << 7
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
GUILD_MESSAGE_TYPING = 1 << 11
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
DIRECT_MESSAGE_TYPING = 1 << 14
MESSAGE_CONTENT = 1 << 15
GUILD_SCHEDULED_EVENTS = 1 << 16
AUTO_MODERATION_CONFIGURATION = 1 << 20
AUTO_MODERATION_EXECUTION = 1 << 21
GUILD_MESSAGE_POLLS = 1 << 24
DIRECT_MESSAGE_POLLS = 1 << 25

ALL_INTENTS = (
    sum(1 << bit for bit in range(0, 17))
    | AUTO_MODERATION_CONFIGURATION
    | AUTO_MODERATION_EXECUTION
    | GUILD_MESSAGE_POLLS
    | DIRECT_MESSAGE_POLLS
)
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

# --- permission bits ---------------------------------------------------------------------------

KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

# --- channel, interaction and message types ----------------------------------------------------

GUILD_TEXT = 0
DM = 1
GUILD_VOICE = 2
GUILD_CATEGORY = 4
GUILD_ANNOUNCEMENT = 5
ANNOUNCEMENT_THREAD = 10
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = {ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD}

PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
APPLICATION_COMMAND_AUTOCOMPLETE = 4
MODAL_SUBMIT = 5
INTERACTION_TYPES = {PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, 4, MODAL_SUBMIT}

PONG = 1
CHANNEL_MESSAGE_WITH_SOURCE = 4
DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
MODAL = 9
LAUNCH_ACTIVITY = 12
CALLBACK_TYPES = {1, 4, 5, 6, 7, 8, 9, 12}

EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12

MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19
MESSAGE_CHAT_INPUT_COMMAND = 20

# --- ids and time ------------------------------------------------------------------------------

_increment = itertools.count()


def snowflake(at: float | None = None) -> str:
    """A new snowflake: milliseconds since the Discord epoch in the top 42 bits, then worker,
    process and a per-process increment, as Discord's ids are built."""
    ms = int((time.time() if at is None else at) * 1000) - DISCORD_EPOCH_MS
    return str((ms << 22) | (1 << 17) | (1 << 12) | (next(_increment) % 4096))


def snowflake_time(value: str | int) -> float:
    """Unix seconds at which a snowflake was made."""
    return ((int(value) >> 22) + DISCORD_EPOCH_MS) / 1000


def iso8601(at: float) -> str:
    """Discord's timestamp form: ``2017-07-11T17:27:07.299000+00:00``."""
    return datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="microseconds")


def new_token(nbytes: int = 48) -> str:
    return secrets.token_urlsafe(nbytes)


def new_session_id() -> str:
    """A gateway session id: 32 lowercase hex characters."""
    return secrets.token_hex(16)


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# --- error bodies ------------------------------------------------------------------------------

UNKNOWN_APPLICATION = 10002
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_USER = 10013
UNKNOWN_WEBHOOK = 10015
UNKNOWN_APPLICATION_COMMAND = 10063
UNKNOWN_INTERACTION = 10062
MISSING_ACCESS = 50001
CANNOT_SEND_EMPTY_MESSAGE = 50006
CANNOT_SEND_MESSAGES_TO_USER = 50007
MISSING_PERMISSIONS = 50013
INVALID_FORM_BODY = 50035
INTERACTION_ALREADY_ACKNOWLEDGED = 40060


def discord_error(
    status: int, message: str, code: int = 0, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Discord's error body: ``{"message": ..., "code": n}`` (code 0 for plain HTTP errors such
    as ``401: Unauthorized``)."""
    return JSONResponse({"message": message, "code": code}, status_code=status, headers=headers)


def field_errors(path: str, code: str, message: str) -> dict[str, Any]:
    """The nested ``errors`` object of a 50035 for one field; ``path`` is dotted
    (``message_reference.message_id``, ``options.0.name``); empty for the whole body."""
    tree: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed([p for p in path.split(".") if p]):
        tree = {part: tree}
    return tree


def merge_errors(*trees: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for tree in trees:
        for key, value in tree.items():
            if key == "_errors":
                merged.setdefault("_errors", []).extend(value)
            elif key in merged:
                merged[key] = merge_errors(merged[key], value)
            else:
                merged[key] = value
    return merged


def invalid_form_body(errors: dict[str, Any]) -> JSONResponse:
    """400 with code 50035 and the per-field ``errors`` tree."""
    body = {"code": INVALID_FORM_BODY, "errors": errors, "message": "Invalid Form Body"}
    return JSONResponse(body, status_code=400)
