"""The Events API: ``event_callback`` envelopes (one ``event_id`` per event, kept by its
retries) and their delivery to an app's Request URL over HTTP, with Slack's retry schedule,
the ``url_verification`` challenge and deliberately broken requests."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from . import payloads, wire
from .http_sender import Delivery, SignedSender, Tamper
from .model import SlackState, Team

SLACK_RETRY_DELAYS = (0.0, 60.0, 300.0)  # after a failure: at once, a minute, five minutes
MALFORMED_BODY = b'{"token": "x", "type": "event_callback", "event": {"type": "mess'


class Envelopes:
    """Every event_callback envelope the fake made, by event id."""

    def __init__(self, state: SlackState) -> None:
        self.state = state
        self.by_id: dict[str, dict[str, Any]] = {}
        self.last_event_id: str | None = None

    def new(self, team: Team, event: dict[str, Any]) -> dict[str, Any]:
        envelope = payloads.event_callback(
            self.state.app, team, event, wire.event_id(), self.state.now()
        )
        self.by_id[envelope["event_id"]] = envelope
        self.last_event_id = envelope["event_id"]
        return envelope

    def again(self, event_id: str | None, event: dict[str, Any]) -> dict[str, Any]:
        """The envelope of an earlier delivery (default: the last), for a retry."""
        chosen = event_id or self.last_event_id
        if chosen is None or chosen not in self.by_id:
            raise KeyError(f"fake Slack: no event {chosen!r} was sent before")
        envelope = self.by_id[chosen]
        envelope["event"] = event
        return envelope


@dataclass(frozen=True)
class UrlVerification:
    challenge: str
    delivery: Delivery

    @property
    def passed(self) -> bool:
        """Slack accepts the challenge back as plain text, as a form or as JSON."""
        if self.delivery.status != 200:
            return False
        answer = self.delivery.answer.strip()
        if answer == self.challenge:
            return True
        try:
            if json.loads(answer).get("challenge") == self.challenge:
                return True
        except (ValueError, AttributeError):
            pass
        return parse_qs(answer).get("challenge") == [self.challenge]


class HttpEvents:
    def __init__(
        self,
        state: SlackState,
        envelopes: Envelopes,
        sender: SignedSender,
        retry_delays: Sequence[float] = SLACK_RETRY_DELAYS,
    ) -> None:
        self.state = state
        self.envelopes = envelopes
        self.sender = sender
        self.retry_delays = tuple(retry_delays)

    async def send(
        self,
        url: str,
        team: Team,
        event: dict[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        event_id: str | None = None,
        tamper: Tamper | None = None,
    ) -> Delivery:
        """One request, no retries. ``retry_num`` (or ``event_id``) resends an earlier event's
        envelope (default: the last one) as Slack's retry ``retry_num`` would."""
        if retry_num is None and event_id is None:
            envelope = self.envelopes.new(team, event)
        else:
            envelope = self.envelopes.again(event_id, event)
        return await self.sender.send(
            "event",
            url,
            wire.compact_json(envelope),
            "application/json",
            tamper=tamper,
            retry_num=retry_num or 0,
            retry_reason=retry_reason if retry_num else "",
            event_id=envelope["event_id"],
        )

    async def deliver(self, url: str, team: Team, event: dict[str, Any]) -> list[Delivery]:
        """Slack's own loop: after a failure (not 2xx, or no answer in 3 s) it retries up to
        three times with the same event id, unless the app answered ``X-Slack-No-Retry: 1``."""
        results = [await self.send(url, team, event)]
        for attempt, delay in enumerate(self.retry_delays, start=1):
            last = results[-1]
            if last.ok or last.refuses_retries:
                break
            await asyncio.sleep(delay)
            results.append(
                await self.send(
                    url,
                    team,
                    event,
                    retry_num=attempt,
                    retry_reason=last.retry_reason,
                    event_id=last.event_id,
                )
            )
        return results

    async def url_verification(self, url: str) -> UrlVerification:
        challenge = secrets.token_urlsafe(38)
        body = payloads.url_verification(self.state.app.verification_token, challenge)
        delivery = await self.sender.send(
            "url_verification", url, wire.compact_json(body), "application/json"
        )
        return UrlVerification(challenge, delivery)

    async def send_malformed(self, url: str) -> Delivery:
        """Correctly signed, but the body is not JSON."""
        return await self.sender.send("event", url, MALFORMED_BODY, "application/json")
