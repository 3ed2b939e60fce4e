"""The built-in ``calendar`` module: a community's events, approvals, attendees, reminders
and its iCalendar feed."""

from waddlebot.modules.calendar.module import build_calendar_module

__all__ = ["build_calendar_module"]
