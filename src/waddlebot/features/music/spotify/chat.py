"""``!sr spotify connect|status|disconnect``: an admin connects the streamer's Spotify
account from chat. The connect link goes by private message: it connects whoever opens it
first (within 15 minutes, once), so it must not be posted in the channel."""

from __future__ import annotations

from waddlebot.core.permissions import Level
from waddlebot.features.music.spotify.accounts import NO_APP, SpotifyStore
from waddlebot.features.music.spotify.connect import SpotifyConnect
from waddlebot.platforms.oauth_tickets import ConnectError
from waddlebot.sdk import Context
from waddlebot.sdk.groups import who_may

WORDS = ("connect", "status", "disconnect")


class SpotifyChat:
    def __init__(self, store: SpotifyStore, connect: SpotifyConnect) -> None:
        self._store = store
        self._connect = connect

    async def command(self, ctx: Context, word: str) -> bool:
        """Answer ``!sr spotify <word>``; False when ``word`` is none of Spotify's."""
        if word not in WORDS:
            return False
        if ctx.caller_level < Level.ADMIN:
            ctx.reply(f"Only {who_may(Level.ADMIN)} can use !sr spotify {word}.")
            return True
        community = ctx.request.community_id
        if word == "connect":
            try:
                url = await self._connect.ticket_url(community, actor=ctx.actor)
            except ConnectError as exc:
                ctx.reply(str(exc))
                return True
            ctx.direct(f"Open this within 15 minutes, signed in to the streamer's Spotify: {url}")
            ctx.reply("I sent you the Spotify connect link in a private message.")
        elif word == "status":
            status = await self._store.status(community)
            if status is None:
                ctx.reply(NO_APP)
            elif not status.connected:
                ctx.reply(
                    f"Spotify app {status.client_id} is set up but no account is connected: "
                    "!sr spotify connect."
                )
            else:
                ctx.reply(f"Spotify is connected: {status.account_name}'s account.")
        elif await self._store.disconnect(community):
            ctx.reply("Spotify is disconnected; the app's settings are kept.")
        else:
            ctx.reply("No Spotify account is connected here.")
        return True
