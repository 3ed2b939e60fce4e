"""The inventory feature: things the community lends out, and who has them."""

from __future__ import annotations

from waddlebot.features.feature import Feature, Host, PortalPage, Route
from waddlebot.features.inventory import api, portal
from waddlebot.features.inventory.models import InventoryCheckout, InventoryItem
from waddlebot.features.inventory.module import build_inventory_module
from waddlebot.features.inventory.service import InventoryService
from waddlebot.features.inventory.tools import TOOLS
from waddlebot.features.shared import COMMUNITY, IDENTITY, INVENTORY


async def setup(host: Host) -> None:
    inventory = host.provide(INVENTORY, InventoryService(host.db, host.audit))
    zone = host.need(COMMUNITY).timezone
    host.add_module(build_inventory_module(inventory, host.need(IDENTITY).find_user, zone))


FEATURE = Feature(
    "inventory",
    setup,
    always_on=False,
    routes=(Route(api.router),),
    pages=(PortalPage("/inventory", "Inventory", portal.router),),
    tools=TOOLS,
    person_columns=(InventoryItem.holder_user_id, InventoryCheckout.user_id),
)
