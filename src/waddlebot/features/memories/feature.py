"""The memories feature: quotes, saved URLs, notes and reminders."""

from __future__ import annotations

from waddlebot.features.feature import Feature, Host, Job, PortalPage, Route
from waddlebot.features.memories import api, portal
from waddlebot.features.memories.chat import build_memories_module
from waddlebot.features.memories.models import Note, Quote, Reminder, SavedUrl
from waddlebot.features.memories.service import Memories
from waddlebot.features.memories.tools import TOOLS
from waddlebot.features.shared import COMMUNITY, IDENTITY, MEMORIES, STREAMS, module_switch


async def setup(host: Host) -> None:
    community = host.need(COMMUNITY)
    memories = host.provide(
        MEMORIES,
        Memories(
            host.db,
            host.audit,
            host.ports.bus,
            community.timezone,
            switch=module_switch(host, "memories"),
        ),
    )
    find_user = host.need(IDENTITY).find_user
    host.add_module(build_memories_module(memories, find_user, host.need(STREAMS)))


FEATURE = Feature(
    "memories",
    setup,
    always_on=False,
    routes=(Route(api.router),),
    pages=(PortalPage("/memories", "Memories", portal.router),),
    jobs=(Job("reminders", 0, lambda host: host.need(MEMORIES).reminders.fire_due()),),
    tools=TOOLS,
    person_columns=(
        Quote.said_by_user_id,
        Quote.added_by_user_id,
        SavedUrl.added_by_user_id,
        Note.added_by_user_id,
        Reminder.created_by_user_id,
    ),
)
