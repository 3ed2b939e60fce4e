"""The marketplace tables: the catalogue's HTTP modules and their versions, and each
community's installs (WaddleBot's own modules need no catalogue row: they are listed from the
running registry, and a community's row for one only records that it is switched off or
configured)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from waddlebot.infra.db.models import SEALED, Base, JsonType, created_at_column, utcnow


class CatalogueModule(Base):
    """A module an operator registered: where it is served and the secret its calls are
    signed with (encrypted with the secret box)."""

    __tablename__ = "catalogue_modules"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="http", server_default="http")
    url: Mapped[str] = mapped_column(String(500))
    secret_sealed: Mapped[str] = mapped_column(String(500), info=SEALED)
    latest_version: Mapped[str] = mapped_column(String(64))
    registered_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class CatalogueVersion(Base):
    """One version of a registered module, as its manifest described it when registered."""

    __tablename__ = "catalogue_versions"
    __table_args__ = (UniqueConstraint("module", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    module: Mapped[str] = mapped_column(
        ForeignKey("catalogue_modules.name", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]] = mapped_column(JsonType)
    schema_errors: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()


class CommunityModule(Base):
    """A module as one community has it: installed (a catalogue module), or one of
    WaddleBot's own switched off or configured. ``grants`` and ``events`` are what the admin
    allowed at install; ``renames`` maps a command of the module to the name it has here."""

    __tablename__ = "community_modules"
    __table_args__ = (UniqueConstraint("community_id", "module"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    module: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(64), default="", server_default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    grants: Mapped[list[str]] = mapped_column(JsonType, default=list, server_default=text("'[]'"))
    events: Mapped[list[str]] = mapped_column(JsonType, default=list, server_default=text("'[]'"))
    renames: Mapped[dict[str, str]] = mapped_column(
        JsonType, default=dict, server_default=text("'{}'")
    )
    config: Mapped[dict[str, Any]] = mapped_column(
        JsonType, default=dict, server_default=text("'{}'")
    )
    installed_by: Mapped[str] = mapped_column(String(256), default="", server_default="")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )
