"""A community's calendar: events (events.py), their recurrence (recurrence.py), reminders
to the people going (reminders.py), the iCalendar feed (feed.py), and reading the dates and
times people type (when.py)."""
