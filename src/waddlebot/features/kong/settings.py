"""The Kong section of the settings (``WADDLEBOT_KONG_*``): the broker that keeps Kong's
consumers and key-auth credentials in step with the API keys; docs/deployment.md#kong."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

DEFAULT_UPSTREAM = "http://{name}:8000"


class KongSettings(BaseModel):
    kong_admin_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="the Admin API of every Kong node (comma-separated); empty: broker off",
    )
    kong_admin_token: SecretStr = Field(
        default=SecretStr(""), description="sent as Kong-Admin-Token when set"
    )
    kong_sync_seconds: float = Field(
        default=5.0, ge=1.0, le=3600.0, description="how often the broker pushes the config"
    )
    kong_upstream: str = Field(
        default=DEFAULT_UPSTREAM,
        description="each service's URL as Kong reaches it; {name} is the service",
    )

    @field_validator("kong_admin_urls", mode="before")
    @classmethod
    def _urls_comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("kong_upstream")
    @classmethod
    def _upstream_names_the_service(cls, value: str) -> str:
        if "{name}" not in value:
            raise ValueError("must contain {name}, e.g. http://waddlebot-{name}:8000")
        return value

    @property
    def kong_broker_on(self) -> bool:
        return bool(self.kong_admin_urls)
