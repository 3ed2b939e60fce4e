"""The MCP server's section of the settings (``WADDLEBOT_MCP_*``); see docs/mcp.md."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class McpSettings(BaseModel):
    mcp_api_key: SecretStr = Field(
        default=SecretStr(""),
        description="the API key `waddlebot mcp serve --stdio` acts with (never an argument: "
        "it would show in ps)",
    )
