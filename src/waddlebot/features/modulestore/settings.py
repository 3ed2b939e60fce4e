"""The module store section of the settings (``WADDLEBOT_MODULE_STORE_*``): what modules may
keep, and where modules served over HTTP reach it; see docs/modules.md."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ModuleStoreSettings(BaseModel):
    module_store_total_bytes: int = Field(
        default=1_000_000, ge=1024, description="bytes one module may keep in one community"
    )
    module_store_value_bytes: int = Field(
        default=64_000, ge=64, description="bytes of one value (its JSON)"
    )
    module_store_url: str = Field(
        default="",
        description="base URL of the API service as modules served over HTTP reach it; "
        "empty: http://<host>:<port>",
    )
    module_store_grant_seconds: int = Field(
        default=300, ge=10, le=86_400, description="how long a module call's store token works"
    )
