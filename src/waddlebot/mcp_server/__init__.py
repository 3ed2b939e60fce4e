"""WaddleBot as an MCP server (``waddlebot mcp serve``): the features' tools
(:mod:`waddlebot.core.tools`) and a few read-only resources, for an assistant outside, over
stdio or streamable HTTP (``/mcp`` of the API). Every call runs as the person whose API key
was presented, in one community, with what that person may do there (docs/mcp.md).

Only :mod:`.settings` may be imported without the ``ai`` extra (which brings the ``mcp``
SDK)."""

from importlib.util import find_spec

PATH = "/mcp"  # where the API serves it


def available() -> bool:
    """Whether the ``mcp`` SDK is installed (the ``ai`` extra)."""
    return find_spec("mcp") is not None
