"""alias."""
