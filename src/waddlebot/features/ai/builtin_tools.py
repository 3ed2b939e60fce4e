"""The bot's own tools (every feature's :attr:`~waddlebot.features.feature.Feature.tools`,
gathered in the runtime's :class:`~waddlebot.core.tools.Toolbox`) as the model is offered
them: only those the asker may use, in features the community has on, each run as the asker
through the toolbox, which checks the level, the writing and the arguments again."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from waddlebot.core.services import Provider
from waddlebot.core.tools import Caller, Toolbox, ToolRefused
from waddlebot.features.ai.providers import ToolDefinition
from waddlebot.features.ai.tool_loop import OfferedTool, ToolFailed, ToolRun
from waddlebot.features.shared import MODULE_VIEWS
from waddlebot.router.views import view_of


def as_text(result: Any) -> str:
    """A tool's result as the model reads it: text as it is, anything else as JSON."""
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, default=str)


class BuiltinTools:
    """A :class:`~waddlebot.features.ai.tool_loop.ToolSource` of the toolbox's tools."""

    def __init__(self, host: Provider, toolbox: Toolbox) -> None:
        self._host = host
        self._toolbox = toolbox

    async def offer(
        self, caller: Caller, config: Mapping[str, Any], *, within: float
    ) -> list[OfferedTool]:
        if not len(self._toolbox):
            return []
        off = await self._switched_off(caller.community_id)
        return [
            OfferedTool(
                ToolDefinition(tool.name, tool.description, tool.parameters),
                self._runner(caller, tool.name, off),
            )
            for tool in self._toolbox.of(caller, off=off)
        ]

    async def _switched_off(self, community_id: int) -> frozenset[str]:
        """The features whose module the community has off (their tools are off too)."""
        # asked when an answer needs it: the marketplace providing the views is set up
        # after this feature
        view = await view_of(self._host.find(MODULE_VIEWS), community_id)
        return self._toolbox.features_off(view.enabled)

    def _runner(self, caller: Caller, name: str, off: frozenset[str]) -> ToolRun:
        async def run(arguments: Mapping[str, Any], within: float) -> str:
            try:
                result = await self._toolbox.call(self._host, caller, name, arguments, off=off)
            except ToolRefused as refused:
                raise ToolFailed(str(refused)) from refused
            return as_text(result)

        return run
