"""The audit feature: a community's audit log over HTTP and in the portal, for its admins."""

from __future__ import annotations

from waddlebot.features.audit import api, pages
from waddlebot.features.feature import Feature, PortalPage, Route

FEATURE = Feature(
    "audit",
    routes=(Route(api.router),),
    pages=(PortalPage("/audit", "Audit log", pages.router, role="admin"),),
)
