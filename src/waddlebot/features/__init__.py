"""WaddleBot's built-in features, one package each (``features/<name>/``): its chat module,
services, tables (``models.py``), HTTP routes, and its declaration (``feature.py``, a
:class:`~waddlebot.features.feature.Feature` named ``FEATURE``).

Adding a feature is adding its folder and its name to :data:`BUILTINS`. The runtime sets the
features up in this order (which is also the order their chat modules are registered in), the
app serves their routes, the account merge moves their person columns and the migrations
environment sees their tables."""

from __future__ import annotations

import importlib
import importlib.util
from functools import cache
from typing import TYPE_CHECKING, Any

from waddlebot.features.feature import Feature, PersonMerge

if TYPE_CHECKING:  # only named here: reading the settings imports this package, keep it light
    from sqlalchemy import MetaData
    from sqlalchemy.orm import InstrumentedAttribute

BUILTINS: tuple[str, ...] = (
    "modulestore",  # first: every module registered after it gets its ctx.store
    "kong",  # before identity, which seals new keys with its KEY_SEALER
    "core",
    "identity",
    "dashboard",  # before any other feature with portal pages: first in the navigation
    "labels",
    "community",
    "timers",
    "inventory",
    "calendar",
    "overlay",
    "memories",
    "commands",
    "alias",
    "ai",
    "shoutouts",
    "music",
    "marketplace",
    "audit",  # last: its page is last in a community's navigation
)


@cache
def builtin_features() -> tuple[Feature, ...]:
    """The declarations, imported when first asked for: a feature's declaration imports its
    routes and services, which may import parts of other features."""
    features = []
    for name in BUILTINS:
        feature = importlib.import_module(f"{__name__}.{name}.feature").FEATURE
        if not isinstance(feature, Feature) or feature.name != name:
            raise TypeError(f"{__name__}.{name}.feature.FEATURE is no Feature named {name!r}")
        features.append(feature)
    return tuple(features)


def person_columns() -> list[InstrumentedAttribute[Any]]:
    """Every column an account merge moves by a plain update, in the features' order."""
    return [column for feature in builtin_features() for column in feature.person_columns]


def person_merges() -> list[PersonMerge]:
    """The merges of their own some person columns need, in the features' order."""
    return [merge for feature in builtin_features() for merge in feature.person_merges]


@cache
def load_models() -> MetaData:
    """The whole schema: the shared tables and every feature's ``models.py``."""
    from waddlebot.infra.db.models import metadata

    for name in BUILTINS:
        module = f"{__name__}.{name}.models"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return metadata


__all__ = [
    "BUILTINS",
    "Feature",
    "builtin_features",
    "load_models",
    "person_columns",
    "person_merges",
]
