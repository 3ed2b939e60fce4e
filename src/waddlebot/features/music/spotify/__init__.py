"""Spotify as a song source: each streamer's own Spotify app and account (docs/music.md)."""
