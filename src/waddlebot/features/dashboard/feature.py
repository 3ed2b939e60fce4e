"""The dashboard feature: a community's first page in the portal (moderator role)."""

from __future__ import annotations

from waddlebot.features.dashboard import pages
from waddlebot.features.dashboard.settings import DashboardSettings
from waddlebot.features.feature import Feature, PortalPage

FEATURE = Feature(
    "dashboard",
    pages=(PortalPage("/dashboard", "Dashboard", pages.router, role="moderator"),),
    settings=DashboardSettings,
)
