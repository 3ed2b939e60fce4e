"""The identity section of the settings: where the portal's one-time sign-in links point."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IdentitySettings(BaseModel):
    portal_public_url: str = Field(
        default="",
        description="base URL people open the portal at (the links !portal sends); empty: "
        "http://<host>:<port>",
    )
