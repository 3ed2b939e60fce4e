"""Finding modules by their ``package.module:attribute`` import paths."""

from __future__ import annotations

import importlib
import os
import sys

from waddlebot.sdk import Module


def load_module(spec: str) -> Module:
    """Load ``package.module:attribute``, where the attribute is a :class:`Module` or a
    function without arguments that returns one."""
    module_path, sep, attribute = spec.partition(":")
    if not sep or not module_path or not attribute:
        raise ValueError(f"cannot load module {spec!r}: give 'package.module:attribute'")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # a module file beside where waddlebot is started
    try:
        target = getattr(importlib.import_module(module_path), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load module {spec!r}: {exc}") from exc
    if isinstance(target, Module):
        return target
    if callable(target):
        built = target()
        if isinstance(built, Module):
            return built
    raise ValueError(f"{spec!r} is not a waddlebot Module or a function returning one")
