"""The model servers an answer is asked of: Ollama through its official client (``/api/chat``)
and OpenAI or any OpenAI-compatible server through the official ``openai`` SDK.

Both clients are imported when first used: they are the optional ``ai`` extra (they bring
httpx, a second HTTP stack), so a WaddleBot installed without it starts, and ``!ai`` says
sorry, logging why. A provider that cannot answer raises :class:`ProviderFailed` saying why, and
the next one in the community's order is asked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NotRequired, Protocol, TypedDict

if TYPE_CHECKING:
    import ollama
    import openai

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool the model asked to run: ``id`` pairs the result with the call (OpenAI sends
    one; for Ollama, which does not, it is made up here)."""

    id: str
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A tool as the model is told of it: ``parameters`` a JSON Schema of its arguments."""

    name: str
    description: str
    parameters: Mapping[str, Any]


class Message(TypedDict):
    """One message of the conversation, in neither API's shape: each provider writes it in
    its own. An assistant message may carry ``tool_calls``; a ``tool`` message is a result,
    naming the call it answers (``tool_call_id``, ``tool_name``)."""

    role: Role
    content: str
    tool_calls: NotRequired[tuple[ToolCall, ...]]
    tool_call_id: NotRequired[str]
    tool_name: NotRequired[str]


@dataclass(frozen=True, slots=True)
class Completion:
    """The model's answer and what it cost, in tokens as the server counted them (0 where it
    did not say); ``tool_calls``: the tools it asked to run before it answers."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_calls: tuple[ToolCall, ...] = field(default=())

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

    async def answer(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        within: float,
        tools: Sequence[ToolDefinition] = (),
    ) -> Completion:
        """The model's answer, or the tools of ``tools`` it wants run first;
        :class:`ProviderFailed` when there is none within ``within`` seconds."""

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

    async def answer(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        within: float,
        tools: Sequence[ToolDefinition] = (),
    ) -> Completion:
        client = self._connected()
        import ollama

        try:
            async with asyncio.timeout(within):
                response = await client.chat(
                    model=model,
                    messages=[_ollama_message(m) for m in messages],
                    tools=_function_tools(tools) or None,
                    stream=False,
                )
        except TimeoutError as exc:
            raise ProviderFailed(self.name, f"no answer within {within:g} s") from exc
        except ollama.ResponseError as exc:
            raise ProviderFailed(self.name, f"HTTP {exc.status_code}: {exc.error}") from exc
        except (ConnectionError, OSError) as exc:
            raise ProviderFailed(self.name, f"cannot connect: {exc}") from exc
        except Exception as exc:  # the client's transport errors (httpx) are not ours to name
            raise ProviderFailed(self.name, f"{type(exc).__name__}: {exc}") from exc
        calls = tuple(
            ToolCall(f"call_{index}", call.function.name, dict(call.function.arguments or {}))
            for index, call in enumerate(response.message.tool_calls or ())
        )
        return Completion(
            response.message.content or "",
            prompt_tokens=response.prompt_eval_count or 0,
            completion_tokens=response.eval_count or 0,
            tool_calls=calls,
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

    async def answer(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        within: float,
        tools: Sequence[ToolDefinition] = (),
    ) -> Completion:
        client = self._connected()
        import openai

        offered: Any = _function_tools(tools) or openai.omit
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        waited = False
        while True:
            left = deadline - loop.time()
            try:
                async with asyncio.timeout(left):
                    completion = await client.chat.completions.create(
                        model=model,
                        messages=_openai_messages(messages),
                        tools=offered,
                        timeout=left,
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
        message = completion.choices[0].message
        return Completion(
            message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            tool_calls=tuple(
                ToolCall(call.id, call.function.name, _arguments(call.function.arguments))
                for call in message.tool_calls or ()
                if call.type == "function"
            ),
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _function_tools(tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
    """Tool definitions as both APIs take them."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": dict(tool.parameters),
            },
        }
        for tool in tools
    ]


def _ollama_message(message: Message) -> dict[str, Any]:
    shaped: dict[str, Any] = {"role": message["role"], "content": message["content"]}
    if "tool_calls" in message:
        shaped["tool_calls"] = [
            {"function": {"name": call.name, "arguments": dict(call.arguments)}}
            for call in message["tool_calls"]
        ]
    if "tool_name" in message:
        shaped["tool_name"] = message["tool_name"]
    return shaped


def _openai_messages(messages: Sequence[Message]) -> list[Any]:
    shaped: list[dict[str, Any]] = []
    for message in messages:
        if "tool_calls" in message:
            shaped.append(
                {
                    "role": "assistant",
                    "content": message["content"] or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {
                                "name": call.name,
                                "arguments": json.dumps(dict(call.arguments)),
                            },
                        }
                        for call in message["tool_calls"]
                    ],
                }
            )
        elif message["role"] == "tool":
            shaped.append(
                {
                    "role": "tool",
                    "tool_call_id": message.get("tool_call_id", ""),
                    "content": message["content"],
                }
            )
        else:
            shaped.append({"role": message["role"], "content": message["content"]})
    return shaped


def _arguments(encoded: str) -> dict[str, Any]:
    """A tool call's arguments, which OpenAI sends as a JSON string. A model may write one
    that is not a JSON object: then none, and the tool's schema refuses what is missing."""
    try:
        decoded = json.loads(encoded or "{}")
    except json.JSONDecodeError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


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
