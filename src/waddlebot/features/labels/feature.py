"""The labels feature: a community's labels, the levels they grant, and their expiry."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waddlebot.features.feature import Feature, Host, Job, PersonMerge, PortalPage, Route
from waddlebot.features.labels import api, portal
from waddlebot.features.labels.models import LabelAssignment
from waddlebot.features.labels.module import build_labels_module
from waddlebot.features.labels.service import LabelService
from waddlebot.features.shared import GRANTS, IDENTITY, LABELS

PURGE_SECONDS = 3600  # expired label assignments are deleted hourly


async def setup(host: Host) -> None:
    labels = host.provide(
        LABELS, LabelService(host.db, host.audit, cache=host.ports.cache, feed=host.feed)
    )
    host.provide(GRANTS, labels)
    host.add_module(build_labels_module(labels, host.need(IDENTITY).find_user))


async def merge_labels(session: AsyncSession, dialect: str, *, keep: int, drop: int) -> None:
    """Labels of the dropped user move over, except those the kept user already has."""
    kept = select(LabelAssignment.label_id).where(
        LabelAssignment.target_type == "user", LabelAssignment.target_id == str(keep)
    )
    await session.execute(
        delete(LabelAssignment).where(
            LabelAssignment.target_type == "user",
            LabelAssignment.target_id == str(drop),
            LabelAssignment.label_id.in_(kept),
        )
    )
    await session.execute(
        update(LabelAssignment)
        .where(LabelAssignment.target_type == "user", LabelAssignment.target_id == str(drop))
        .values(target_id=str(keep))
    )


FEATURE = Feature(
    "labels",
    setup,
    routes=(Route(api.router),),
    jobs=(Job("labels.purge", PURGE_SECONDS, lambda host: host.need(LABELS).purge_expired()),),
    # a user's labels name them by id in target_id (a label may also name an item, an event)
    person_merges=(PersonMerge((LabelAssignment.target_id,), merge_labels),),
    pages=(PortalPage("/labels", "Labels", portal.router, role="moderator"),),
)
