"""Shoutouts: ``!so @name`` and raid shoutouts, with Twitch's own shoutout and a clip."""
