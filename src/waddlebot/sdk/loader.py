"""Finding modules by name: the built-in ones, or ``package.module:attribute`` import paths."""

from __future__ import annotations

import importlib
import os
import sys

from waddlebot.sdk import Module

BUILTIN_MODULES: dict[str, str] = {}  # name -> import path, filled as modules land


def load_module(spec: str) -> Module:
    """Load ``name`` (built-in) or ``package.module:attribute``, where the attribute is a
    :class:`Module` or a function without arguments that returns one."""
    path = BUILTIN_MODULES.get(spec, spec)
    module_path, sep, attribute = path.partition(":")
    if not sep or not module_path or not attribute:
        known = ", ".join(sorted(BUILTIN_MODULES)) or "none yet"
        raise ValueError(
            f"cannot load module {spec!r}: give 'package.module:attribute' "
            f"(built-in modules: {known})"
        )
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
