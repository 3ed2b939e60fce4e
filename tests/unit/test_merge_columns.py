"""An account merge moves every row that names a person: each column of the schema that
references ``users.id``, or whose name ends in ``user_id``, is declared by some feature, as
moved (``person_columns``, ``person_merges``) or as kept with the reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table

import waddlebot.features
from waddlebot.features import BUILTINS, builtin_features, load_models
from waddlebot.features.feature import Feature


def declared(features: Iterable[Feature]) -> list[str]:
    """``table.column`` of every column the features declare, each once per declaration."""
    names = []
    for feature in features:
        columns = [*feature.person_columns]
        columns += [column for merge in feature.person_merges for column in merge.columns]
        columns += [column for column, _reason in feature.kept_columns]
        names += [f"{column.class_.__table__.name}.{column.key}" for column in columns]
    return names


def names_a_person(column: Column[object]) -> bool:
    references_user = any(fk.target_fullname == "users.id" for fk in column.foreign_keys)
    return references_user or column.name.endswith("user_id")


def undeclared(metadata: MetaData, features: Iterable[Feature]) -> set[str]:
    covered = set(declared(features))
    return {
        f"{table.name}.{column.name}"
        for table in metadata.tables.values()
        for column in table.columns
        if names_a_person(column) and f"{table.name}.{column.name}" not in covered
    }


def test_every_person_column_is_declared_by_a_feature() -> None:
    assert undeclared(load_models(), builtin_features()) == set()


def test_a_new_person_column_left_undeclared_is_found() -> None:
    metadata = MetaData()
    for table in load_models().tables.values():
        table.to_metadata(metadata)
    Table(
        "badges",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("owner", Integer, ForeignKey("users.id")),
        Column("given_by_user_id", Integer),
    )
    assert undeclared(metadata, builtin_features()) == {"badges.owner", "badges.given_by_user_id"}


def test_each_column_is_declared_once_and_kept_ones_say_why() -> None:
    twice = [name for name, n in Counter(declared(builtin_features())).items() if n > 1]
    assert twice == []
    for feature in builtin_features():
        for column, reason in feature.kept_columns:
            assert reason.strip(), f"{feature.name} keeps {column.key} without saying why"


def test_every_feature_folder_is_a_builtin() -> None:
    root = Path(waddlebot.features.__file__).parent
    folders = {path.parent.name for path in root.glob("*/feature.py")}
    assert folders == set(BUILTINS)
    assert [feature.name for feature in builtin_features()] == list(BUILTINS)
