"""The AI section of the settings (``WADDLEBOT_AI_*``): where the model servers are and how
long the bot waits for them; see docs/ai.md. What each community wants (persona, provider
order, models) is the ``ai`` module's own settings (``!module config ai ...``)."""

from __future__ import annotations

import shlex

from pydantic import BaseModel, Field, SecretStr, field_validator


class AISettings(BaseModel):
    ai_ollama_url: str = Field(default="http://127.0.0.1:11434", description="Ollama's base URL")
    ai_openai_url: str = Field(
        default="https://api.openai.com/v1",
        description="base URL of OpenAI or an OpenAI-compatible server (ending in /v1)",
    )
    ai_openai_api_key: SecretStr = SecretStr("")
    ai_request_timeout_seconds: float = Field(
        default=4.0, gt=0, description="the longest one provider is waited for"
    )
    ai_retry_after_max_seconds: float = Field(
        default=2.0, ge=0, description="the longest Retry-After of a 429 waited out (once)"
    )
    ai_memory_seconds: int = Field(
        default=1800, gt=0, description="a channel's conversation is forgotten after this quiet"
    )
    ai_tool_timeout_seconds: float = Field(
        default=3.0, gt=0, description="the longest one tool call of the model is waited for"
    )
    ai_tool_result_chars: int = Field(
        default=2000, ge=100, description="the most of a tool's result the model reads"
    )
    ai_mcp_commands: dict[str, str] = Field(
        default_factory=dict,
        description="the stdio MCP servers communities may add, by name: a JSON object of "
        'command lines, e.g. {"files": "mcp-files --root /srv/share"}',
    )
    ai_mcp_idle_seconds: float = Field(
        default=300.0, gt=0, description="an MCP server's session unused this long is closed"
    )

    @field_validator("ai_mcp_commands")
    @classmethod
    def _command_lines(cls, commands: dict[str, str]) -> dict[str, str]:
        for name, line in commands.items():
            try:
                words = shlex.split(line)
            except ValueError as exc:
                raise ValueError(f"MCP command {name!r}: {exc}") from exc
            if not words:
                raise ValueError(f"MCP command {name!r} is empty")
        return commands

    ai_daily_tokens: int = Field(
        default=0,
        ge=0,
        description="tokens a community may spend a day (0: no limit); a community may set less",
    )
    ai_moderation_model: str = Field(
        default="omni-moderation-latest",
        min_length=1,
        description="the model of OpenAI's /v1/moderations, for communities with moderate on",
    )
