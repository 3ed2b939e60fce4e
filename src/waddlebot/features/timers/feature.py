"""The timers feature: messages a community repeats on a schedule."""

from __future__ import annotations

from waddlebot.features.feature import Feature, Host, Job, PortalPage
from waddlebot.features.shared import TIMERS, module_switch
from waddlebot.features.timers import portal
from waddlebot.features.timers.module import build_timers_module
from waddlebot.features.timers.service import TimerService


async def setup(host: Host) -> None:
    timers = TimerService(
        host.db,
        host.audit,
        host.ports.cache,
        host.ports.bus,
        switch=module_switch(host, "timers"),
    )
    host.add_module(build_timers_module(host.provide(TIMERS, timers)))


FEATURE = Feature(
    "timers",
    setup,
    always_on=False,
    jobs=(Job("timers", 0, lambda host: host.need(TIMERS).fire_due()),),
    pages=(PortalPage("/timers", "Timers", portal.router, role="moderator"),),
)
