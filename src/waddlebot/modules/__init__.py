"""Kept so modules written against the first SDK (``from waddlebot.modules.sdk import ...``)
keep working; new code imports :mod:`waddlebot.sdk`."""
