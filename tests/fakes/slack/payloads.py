"""What Slack sends to an app, built from the recorded examples in ``tests/fixtures/slack`` so
only the fields a test cares about are filled in by code: Events API events and their
``event_callback`` envelope, the ``url_verification`` challenge, slash command fields and the
Socket Mode frames."""

from __future__ import annotations

import base64
import re
from typing import Any

from . import wire
from .examples import example
from .model import App, Channel, Team, User
from .objects import bot_profile

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def rich_text(text: str) -> list[dict[str, Any]]:
    """The ``rich_text`` block Slack derives from what a person typed; mentions become user
    elements."""
    elements: list[dict[str, Any]] = []
    position = 0
    for mention in _MENTION.finditer(text):
        if mention.start() > position:
            elements.append({"type": "text", "text": text[position : mention.start()]})
        elements.append({"type": "user", "user_id": mention.group(1)})
        position = mention.end()
    if position < len(text):
        elements.append({"type": "text", "text": text[position:]})
    block_id = wire.new_uuid()[:4]
    section = {"type": "rich_text_section", "elements": elements}
    return [{"type": "rich_text", "block_id": block_id, "elements": [section]}]


# --- events ---------------------------------------------------------------------------------


def message(
    channel: Channel,
    user: User,
    text: str,
    ts: str,
    *,
    thread_ts: str | None = None,
    parent_user_id: str | None = None,
) -> dict[str, Any]:
    """A message event; from a bot user it carries ``bot_id``, ``app_id`` and ``bot_profile``
    instead of ``client_msg_id``."""
    event = example("event.message")
    event.update(
        channel=channel.id,
        user=user.id,
        text=text,
        ts=ts,
        event_ts=ts,
        channel_type=channel.event_channel_type,
        team=channel.team_id,
        client_msg_id=wire.new_uuid(),
        blocks=rich_text(text),
    )
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
        if parent_user_id is not None:
            event["parent_user_id"] = parent_user_id
    if user.bot_id is not None:
        del event["client_msg_id"]
        event["bot_id"] = user.bot_id
        if user.app_id is not None:
            event["app_id"] = user.app_id
            event["bot_profile"] = bot_profile(user)
    return event


def bot_message(
    channel: Channel, text: str, ts: str, *, bot_id: str, username: str
) -> dict[str, Any]:
    """A legacy integration's message (subtype ``bot_message``): no ``user``."""
    event = example("event.message.bot_message")
    event.update(
        text=text,
        ts=ts,
        event_ts=ts,
        username=username,
        bot_id=bot_id,
        channel=channel.id,
        channel_type=channel.event_channel_type,
    )
    return event


def _as_previous(original: dict[str, Any]) -> dict[str, Any]:
    kept = ("type", "user", "text", "ts", "client_msg_id", "team", "bot_id", "thread_ts")
    return {key: original[key] for key in kept if key in original}


def message_changed(
    channel: Channel, original: dict[str, Any], text: str, ts: str, editor: str
) -> dict[str, Any]:
    event = example("event.message.message_changed")
    previous = _as_previous(original)
    edited = {
        **previous,
        "text": text,
        "edited": {"user": editor, "ts": ts},
        "source_team": channel.team_id,
        "user_team": channel.team_id,
    }
    event.update(
        message=edited,
        previous_message=previous,
        channel=channel.id,
        ts=ts,
        event_ts=ts,
        channel_type=channel.event_channel_type,
    )
    return event


def message_deleted(channel: Channel, original: dict[str, Any], ts: str) -> dict[str, Any]:
    event = example("event.message.message_deleted")
    event.update(
        channel=channel.id,
        ts=ts,
        deleted_ts=original["ts"],
        event_ts=ts,
        previous_message=_as_previous(original),
        channel_type=channel.event_channel_type,
    )
    return event


def app_mention(
    channel: Channel, user: User, text: str, ts: str, *, thread_ts: str | None = None
) -> dict[str, Any]:
    event = example("event.app_mention")
    event.update(
        user=user.id,
        text=text,
        ts=ts,
        client_msg_id=wire.new_uuid(),
        team=channel.team_id,
        blocks=rich_text(text),
        channel=channel.id,
        event_ts=ts,
    )
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def member_joined(
    channel: Channel, user: User, ts: str, *, inviter: User | None = None
) -> dict[str, Any]:
    event = example("event.member_joined_channel")
    event.update(
        user=user.id,
        channel=channel.id,
        channel_type="G" if channel.kind == "private" else "C",
        team=channel.team_id,
        event_ts=ts,
    )
    if inviter is None:
        del event["inviter"]
    else:
        event["inviter"] = inviter.id
    return event


# --- envelopes --------------------------------------------------------------------------------


def event_context(app: App, team_id: str, event: dict[str, Any]) -> str:
    """An opaque ``event_context`` of the shape Slack uses (``4-`` and base64url JSON)."""
    facts = {"et": event.get("type"), "tid": team_id, "aid": app.id, "cid": event.get("channel")}
    encoded = base64.urlsafe_b64encode(wire.compact_json(facts)).decode().rstrip("=")
    return f"4-{encoded}"


def event_callback(
    app: App, team: Team, event: dict[str, Any], event_id: str, event_time: int
) -> dict[str, Any]:
    envelope = example("envelope.event_callback")
    envelope.update(
        token=app.verification_token,
        team_id=team.id,
        context_team_id=team.id,
        api_app_id=app.id,
        event=event,
        event_id=event_id,
        event_time=event_time,
        event_context=event_context(app, team.id, event),
    )
    authorization = envelope["authorizations"][0]
    authorization.update(team_id=team.id, user_id=team.bot_user_id)
    return envelope


def url_verification(token: str, challenge: str) -> dict[str, Any]:
    body = example("envelope.url_verification")
    body.update(token=token, challenge=challenge)
    return body


def slash_command(
    app: App,
    team: Team,
    channel: Channel,
    user: User,
    command: str,
    text: str,
    *,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    fields = example("slash_command")
    channel_name = {"im": "directmessage", "mpim": "directmessage", "private": "privategroup"}
    fields.update(
        token=app.verification_token,
        team_id=team.id,
        team_domain=team.domain,
        channel_id=channel.id,
        channel_name=channel_name.get(channel.kind, channel.name),
        user_id=user.id,
        user_name=user.name,
        command=command,
        text=text,
        api_app_id=app.id,
        response_url=response_url,
        trigger_id=trigger_id,
    )
    return {key: str(value) for key, value in fields.items()}


# --- Socket Mode frames ---------------------------------------------------------------------


def socket_hello(app_id: str, num_connections: int, host: str) -> dict[str, Any]:
    hello = example("socket.hello")
    hello["num_connections"] = num_connections
    hello["debug_info"]["host"] = host
    hello["connection_info"]["app_id"] = app_id
    return hello


def socket_disconnect(reason: str, host: str) -> dict[str, Any]:
    frame = example("socket.disconnect")
    frame["reason"] = reason
    frame["debug_info"]["host"] = host
    return frame


def socket_envelope(
    type_: str,
    envelope_id: str,
    payload: dict[str, Any],
    *,
    accepts_response_payload: bool,
    retry_attempt: int = 0,
    retry_reason: str = "",
) -> dict[str, Any]:
    """``events_api`` envelopes carry ``retry_attempt``/``retry_reason``; ``slash_commands``
    and ``interactive`` ones do not."""
    if type_ == "events_api":
        envelope = example("socket.events_api")
        envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
    else:
        envelope = example("socket.slash_commands")
        envelope["type"] = type_
    envelope.update(
        envelope_id=envelope_id,
        payload=payload,
        accepts_response_payload=accepts_response_payload,
    )
    return envelope
