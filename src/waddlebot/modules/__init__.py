"""Modules: the SDK and the built-in modules."""
