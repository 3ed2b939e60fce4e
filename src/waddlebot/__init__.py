"""WaddleBot: one community chat bot for Twitch, Discord and Slack at once."""

__version__ = "0.1.0"
