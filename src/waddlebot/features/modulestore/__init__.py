"""modulestore: what modules remember (``ctx.store``), in the database."""
