"""The model servers an answer is asked of: Ollama through its official client (``/api/chat``)
and OpenAI or any OpenAI-compatible server through the official ``openai`` SDK.

Both clients are imported when first used: they are the optional ``ai`` extra (they bring
httpx, a second HTTP stack), so a WaddleBot installed without it starts, and ``!ai`` says
sorry, logging why. A provider that cannot answer raises :class:`ProviderFailed` saying why, and
the next one in the community's order is asked."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict

if TYPE_CHECKING:
    import ollama
    import openai

Role = Literal["system", "user", "assistant"]


class Message(TypedDict):
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    """The model's answer and what it cost, in tokens as the server counted them (0 where it
    did not say)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ProviderFailed(Exception):
    """The provider gave no answer: down, too slow, refusing or rate limited."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason


class Provider(Protocol):
    @property
    def name(self) -> str: ...

    async def answer(self, model: str, messages: Sequence[Message], *, within: float) -> Completion:
        """The model's answer; :class:`ProviderFailed` when there is none within ``within``
        seconds."""

    def prepare(self) -> None:
        """Build the client now (its import is slow): :class:`ProviderFailed` when its
        package is not installed."""

    async def close(self) -> None: ...


def _missing_extra(provider: str, exc: ImportError) -> ProviderFailed:
    missing = f"its client is not installed ({exc.name}): pip install 'waddlebot[ai]'"
    return ProviderFailed(provider, missing)


class OllamaProvider:
    """Ollama's ``/api/chat``, not streamed: the whole answer is needed before it is cut to
    the platform's length anyway."""

    name = "ollama"

    def __init__(self, base_url: str, *, timeout: float) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._client: ollama.AsyncClient | None = None

    def prepare(self) -> None:
        self._connected()

    def _connected(self) -> ollama.AsyncClient:
        if self._client is None:
            try:
                import ollama
            except ImportError as exc:
                raise _missing_extra(self.name, exc) from exc
            self._client = ollama.AsyncClient(host=self._base_url, timeout=self._timeout)
        return self._client

    async def answer(self, model: str, messages: Sequence[Message], *, within: float) -> Completion:
        client = self._connected()
        import ollama

        try:
            async with asyncio.timeout(within):
                response = await client.chat(model=model, messages=list(messages), stream=False)
        except TimeoutError as exc:
            raise ProviderFailed(self.name, f"no answer within {within:g} s") from exc
        except ollama.ResponseError as exc:
            raise ProviderFailed(self.name, f"HTTP {exc.status_code}: {exc.error}") from exc
        except (ConnectionError, OSError) as exc:
            raise ProviderFailed(self.name, f"cannot connect: {exc}") from exc
        except Exception as exc:  # the client's transport errors (httpx) are not ours to name
            raise ProviderFailed(self.name, f"{type(exc).__name__}: {exc}") from exc
        return Completion(
            response.message.content or "",
            prompt_tokens=response.prompt_eval_count or 0,
            completion_tokens=response.eval_count or 0,
        )

    async def close(self) -> None:
        if self._client is not None:
            await _close(self._client)
            self._client = None


class OpenAIProvider:
    """``/v1/chat/completions`` of OpenAI or an OpenAI-compatible server. The SDK's own retries
    are off: a 429 is waited out here, once, only when its ``Retry-After`` is short enough;
    anything else goes on to the next provider at once."""

    name = "openai"

    def __init__(
        self, base_url: str, api_key: str, *, timeout: float, retry_after_max: float
    ) -> None:
        self._base_url = base_url
        self._timeout = timeout
        # a local OpenAI-compatible server needs no key, but the SDK refuses to start without
        self._api_key = api_key or "no-key"
        self._retry_after_max = retry_after_max
        self._client: openai.AsyncOpenAI | None = None

    def prepare(self) -> None:
        self._connected()

    def client(self) -> openai.AsyncOpenAI:
        """The SDK's client, for OpenAI's other endpoints (moderation)."""
        return self._connected()

    def _connected(self) -> openai.AsyncOpenAI:
        if self._client is None:
            try:
                import openai
            except ImportError as exc:
                raise _missing_extra(self.name, exc) from exc
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self._base_url,
                max_retries=0,
                timeout=self._timeout,
            )
        return self._client

    async def answer(self, model: str, messages: Sequence[Message], *, within: float) -> Completion:
        client = self._connected()
        import openai

        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        waited = False
        while True:
            left = deadline - loop.time()
            try:
                async with asyncio.timeout(left):
                    completion = await client.chat.completions.create(
                        model=model, messages=_openai_messages(messages), timeout=left
                    )
                break
            except openai.RateLimitError as exc:
                delay = _retry_after(exc.response.headers)
                budget = min(self._retry_after_max, deadline - loop.time())
                if waited or delay is None or delay > budget:
                    shown = "none" if delay is None else f"{delay:g} s"
                    raise ProviderFailed(self.name, f"rate limited (Retry-After {shown})") from exc
                waited = True
                await asyncio.sleep(delay)
            except (TimeoutError, openai.APITimeoutError) as exc:
                raise ProviderFailed(self.name, f"no answer within {within:g} s") from exc
            except openai.APIStatusError as exc:
                raise ProviderFailed(self.name, f"HTTP {exc.status_code}: {exc.message}") from exc
            except openai.APIConnectionError as exc:
                raise ProviderFailed(self.name, f"cannot connect: {exc}") from exc
            except openai.OpenAIError as exc:
                raise ProviderFailed(self.name, f"{type(exc).__name__}: {exc}") from exc
        if not completion.choices:
            raise ProviderFailed(self.name, "the answer had no choices")
        usage = completion.usage
        return Completion(
            completion.choices[0].message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _openai_messages(messages: Sequence[Message]) -> list[Any]:
    # the SDK types each role's message apart; ours are the plain {role, content} they share
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _retry_after(headers: Any) -> float | None:
    """The wait a 429 asks for, in seconds (``retry-after-ms`` first, as OpenAI sends both)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue  # an HTTP date: not worth waiting for in chat
        if seconds >= 0:
            return seconds
    return None


async def _close(client: Any) -> None:
    close = getattr(client, "close", None)  # older clients have none
    if close is not None:
        await close()
