"""The built-in ``inventory`` module: things a community lends out, and who has them."""

from waddlebot.modules.inventory.module import build_inventory_module

__all__ = ["build_inventory_module"]
