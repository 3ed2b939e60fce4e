"""Collectors: everything platform-specific (in: verify, dedupe, translate; out: send)."""
