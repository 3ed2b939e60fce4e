"""A community's calendar: events (events.py), their recurrence (recurrence.py), reminders
to the people going (reminders.py), the iCalendar feed (feed.py), and reading the dates and
times people type (when.py)."""

from waddlebot.features.calendar.events import (
    AlreadyDecided,
    CalendarError,
    CalendarLimit,
    CalendarService,
    EventFull,
    EventInfo,
    NewEvent,
    UnknownEvent,
    UnknownPerson,
)
from waddlebot.features.calendar.feed import FeedService, feed_path
from waddlebot.features.calendar.reminders import ReminderJob

__all__ = [
    "AlreadyDecided",
    "CalendarError",
    "CalendarLimit",
    "CalendarService",
    "EventFull",
    "EventInfo",
    "FeedService",
    "NewEvent",
    "ReminderJob",
    "UnknownEvent",
    "UnknownPerson",
    "feed_path",
]
