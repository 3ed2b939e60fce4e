"""What the operator set up for the AI (``WADDLEBOT_AI_*``), as a community's admins may see
it on the portal's AI page: where each provider's model server is and whether it has a key,
and the names of the MCP commands communities may add. Never a key, nor a command line (it may
name paths and carry tokens), nor the user name, password or query of a URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from waddlebot.core.services import Key
from waddlebot.features.ai.settings import AISettings


@dataclass(frozen=True, slots=True)
class ProviderSetup:
    name: str  # as provider_order names it
    title: str
    url: str  # without user info or query
    key: str  # what the page says of its API key: "set", "not set" or "none needed"


@dataclass(frozen=True, slots=True)
class OperatorSetup:
    providers: tuple[ProviderSetup, ...]
    mcp_commands: tuple[str, ...]  # the names a community's server may give as its command


def shown_url(url: str) -> str:
    """``url`` without what may be a secret: user info, query and fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(not a valid URL)"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def operator_setup(own: AISettings) -> OperatorSetup:
    openai_key = "set" if own.ai_openai_api_key.get_secret_value() else "not set"
    return OperatorSetup(
        providers=(
            ProviderSetup("ollama", "Ollama", shown_url(own.ai_ollama_url), "none needed"),
            ProviderSetup("openai", "OpenAI", shown_url(own.ai_openai_url), openai_key),
        ),
        mcp_commands=tuple(sorted(own.ai_mcp_commands)),
    )


OPERATOR_SETUP: Key[OperatorSetup] = Key("ai operator setup")
