"""The integers the HTTP API takes, in paths, queries and bodies alike.

Every id and number is stored in a PostgreSQL ``integer`` column, and every count and offset
is compared with one: a value past 2**31 - 1 cannot even be sent to the database (asyncpg
refuses it; SQLite overflows past 2**63). So each integer the API accepts is one of these
types, and anything outside their range is a 422 naming the parameter before any query runs.
Zero and negative ids are 422 too: nothing has them. ``tests/unit/test_api_numbers.py``
fails when an operation takes an integer without an upper bound.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

MAX_STORED_INT = 2**31 - 1  # PostgreSQL ``integer``

Id = Annotated[int, Interval(ge=1, le=MAX_STORED_INT)]
"""An id (a community, a person, an event) or a number (a quote, a reminder): 1 and up."""

Count = Annotated[int, Interval(ge=0, le=MAX_STORED_INT)]
"""An offset, a limit or a level: 0 and up."""
