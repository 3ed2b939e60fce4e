"""An answer checked by OpenAI's moderation endpoint (``/v1/moderations``, through the
official SDK) before it is posted, where the community asks for it (``moderate: true``).

It fails closed: an answer that could not be checked (the endpoint down, slow, refusing the
key, or a server without one) is not posted either, and the bot says it cannot check its
answers right now. Moderation costs no tokens at OpenAI and is not booked to the budget."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import openai

SETTINGS: dict[str, Any] = {
    "moderate": {
        "type": "boolean",
        "default": False,
        "description": "check each answer with OpenAI's moderation before posting it",
    },
}
FLAGGED_LINE = "I'd rather not answer that one."
UNCHECKED_LINE = "I can't check my answers right now, so I won't post this one. Sorry!"


@dataclass(frozen=True, slots=True)
class Verdict:
    flagged: bool
    categories: tuple[str, ...]  # those flagged, by OpenAI's names ("self-harm/intent")


class ModerationFailed(Exception):
    """The answer could not be checked; the message says why (never the answer)."""


class OpenAIModeration:
    """``client``: the OpenAI SDK's client (the OpenAI provider's, built on first use)."""

    def __init__(
        self, client: Callable[[], openai.AsyncOpenAI], *, model: str, timeout: float
    ) -> None:
        self._client = client
        self._model = model
        self._timeout = timeout

    async def check(self, text: str) -> Verdict:
        """OpenAI's verdict on ``text``; :class:`ModerationFailed` when there is none."""
        try:
            client = self._client()
        except Exception as exc:  # its package not installed (the provider says which)
            raise ModerationFailed(str(exc)) from exc
        import openai

        try:
            async with asyncio.timeout(self._timeout):
                response = await client.moderations.create(
                    input=text, model=self._model, timeout=self._timeout
                )
        except (TimeoutError, openai.APITimeoutError) as exc:
            raise ModerationFailed(f"no verdict within {self._timeout:g} s") from exc
        except openai.APIStatusError as exc:
            raise ModerationFailed(f"HTTP {exc.status_code}: {exc.message}") from exc
        except openai.OpenAIError as exc:
            raise ModerationFailed(f"{type(exc).__name__}: {exc}") from exc
        if not response.results:
            raise ModerationFailed("the verdict had no results")
        result = response.results[0]
        flagged = result.categories.model_dump(by_alias=True)
        return Verdict(
            result.flagged, tuple(sorted(name for name, on in flagged.items() if on is True))
        )
