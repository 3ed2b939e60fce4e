"""Shouting someone out on Twitch: who they are and what they last played (Helix Get Users and
Get Channel Information), a clip of theirs to show (Get Clips), and Twitch's own shoutout in
the community's channel (Send a Shoutout, with the broadcaster's token), queued while
Twitch's limits say wait."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from waddlebot.core.clock import Clock, SystemClock
from waddlebot.features.shoutouts.schedule import CHANNEL_GAP, Queued, ShoutoutSchedule
from waddlebot.platforms.twitch.client import TwitchApi
from waddlebot.platforms.twitch.helix import Clip, HelixError
from waddlebot.platforms.twitch.tokens import TokenUnavailable

log = structlog.get_logger("waddlebot.shoutouts")

CLIP_DAYS = 30  # clips made this long ago at most
CLIPS_ASKED = 20  # the most viewed of them
CLIPS_PICKED_FROM = 5  # a random one of the most viewed short enough


class TwitchMissing(Exception):
    """This bot has no Twitch application configured: nobody can be looked up."""


class ShoutoutRefused(Exception):
    """Twitch refused the shoutout for good (not a limit): its message."""


@dataclass(frozen=True, slots=True)
class Streamer:
    id: str
    login: str
    name: str
    game: str  # the category last streamed; "" when never
    profile_image_url: str
    description: str

    @property
    def url(self) -> str:
        return f"https://twitch.tv/{self.login}"


class Shoutouts:
    def __init__(
        self,
        api: TwitchApi | None,
        schedule: ShoutoutSchedule,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._api = api
        self._schedule = schedule
        self.clock = clock or SystemClock()  # tests move it
        self.rng = rng or random.Random()

    def _twitch(self) -> TwitchApi:
        if self._api is None:
            raise TwitchMissing
        return self._api

    async def find(self, *, login: str = "", user_id: str = "") -> Streamer | None:
        """The Twitch account by login or id, with its last category; None when unknown."""
        helix = self._twitch().helix
        login = login.strip().lstrip("@").lower()
        if not (login or user_id) or (login and not _plausible_login(login)):
            return None
        users = await helix.get_users(
            ids=[user_id] if user_id else [], logins=[login] if login else []
        )
        if not users:
            return None
        user = users[0]
        channel = await helix.get_channel(user.id)
        return Streamer(
            id=user.id,
            login=user.login,
            name=user.display_name or user.login,
            game=channel.game_name if channel else "",
            profile_image_url=user.profile_image_url,
            description=user.description,
        )

    async def clip_of(self, streamer: Streamer, *, max_seconds: float) -> Clip | None:
        """A random one of their most viewed recent clips short enough to show."""
        now = self.clock.now()
        page = await self._twitch().helix.get_clips(
            streamer.id, first=CLIPS_ASKED, since=now - timedelta(days=CLIP_DAYS), until=now
        )
        short = [clip for clip in page.clips if 0 < clip.duration <= max_seconds]
        short.sort(key=lambda clip: -clip.view_count)
        return self.rng.choice(short[:CLIPS_PICKED_FROM]) if short else None

    async def channel_of(self, community_id: int) -> str | None:
        """The Twitch channel connected to the community (its broadcaster's account)."""
        for status in await self._twitch().tokens.broadcasters():
            if status.community_id == community_id and status.status == "ok":
                return status.account_id
        return None

    async def give(self, channel: str, streamer: Streamer) -> datetime | None:
        """Twitch's shoutout from ``channel``: sent now (None), or queued until the moment
        returned. :class:`ShoutoutRefused` when Twitch will not take it at all."""
        now = self.clock.now().timestamp()
        slot = await self._schedule.next_slot(channel, streamer.id, now)
        if slot <= now:
            if await self._send(channel, streamer.id):
                await self._schedule.book(channel, streamer.id, now)
                return None
            slot = now + CHANNEL_GAP  # a shoutout given elsewhere (by hand) holds the channel
        await self._schedule.book(channel, streamer.id, slot)
        await self._schedule.add(channel, Queued(streamer.id, streamer.name, slot))
        return datetime.fromtimestamp(slot, UTC)

    async def send_due(self) -> int:
        """Send the queued shoutouts whose time has come; how many went."""
        if self._api is None:
            return 0
        now = self.clock.now().timestamp()
        sent = 0
        for status in await self._api.tokens.broadcasters():
            channel = status.account_id
            due = await self._schedule.take_due(channel, now)
            for index, item in enumerate(due):
                try:
                    went = await self._send(channel, item.target_id)
                except ShoutoutRefused as refused:
                    log.warning("queued shoutout refused", to=item.target_id, reason=str(refused))
                    continue
                except BaseException:
                    await self._schedule.add(channel, *due[index:])  # unsent: the next round
                    raise
                if went:
                    sent += 1
                else:
                    later = Queued(item.target_id, item.name, now + CHANNEL_GAP)
                    await self._schedule.add(channel, later)
        return sent

    async def _send(self, channel: str, target: str) -> bool:
        """True when sent; False when Twitch says wait (429)."""
        try:
            await self._twitch().helix.send_shoutout(channel, target, channel)
        except HelixError as exc:
            if exc.status == 429:
                return False
            if exc.transient:
                raise
            raise ShoutoutRefused(_twitch_said(exc)) from exc
        except TokenUnavailable as exc:
            raise ShoutoutRefused("the channel must connect to Twitch again") from exc
        return True


def _plausible_login(login: str) -> bool:
    return 1 <= len(login) <= 25 and all(ch.isalnum() or ch == "_" for ch in login)


def _twitch_said(exc: HelixError) -> str:
    """Twitch's own message, after the method, path and status the client put first."""
    text = str(exc)
    parts = text.split(" ", 3)
    return parts[3] if len(parts) == 4 and parts[2].isdigit() else text
