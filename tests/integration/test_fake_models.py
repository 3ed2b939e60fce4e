"""The fake model servers behave as Ollama and OpenAI do, driven by their official clients:
answers whole and streamed, the models listed, errors in each server's own shape."""

from __future__ import annotations

import ollama
import openai
import pytest

from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_api import FakeOpenAI

HELLO = [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"}]


async def test_ollama_answers_whole_and_streamed() -> None:
    async with FakeOllama() as fake:
        fake.script.rules["hi"] = "Hello there, friend!"
        client = ollama.AsyncClient(host=fake.url)
        whole = await client.chat(model="llama3.2", messages=HELLO, stream=False)
        assert whole.message.role == "assistant"
        assert whole.message.content == "Hello there, friend!"
        assert whole.done and whole.done_reason == "stop"
        stream = await client.chat(model="llama3.2", messages=HELLO, stream=True)
        pieces = [part async for part in stream]
        assert "".join(part.message.content or "" for part in pieces) == "Hello there, friend!"
        assert len(pieces) == 4 and pieces[-1].done and not pieces[0].done
        assert fake.script.chats[0]["stream"] is False and fake.script.chats[1]["stream"] is True
        assert fake.script.last_messages == HELLO


async def test_ollama_echoes_what_it_was_asked_and_lists_its_models() -> None:
    async with FakeOllama(models=("llama3.2", "qwen3:8b")) as fake:
        client = ollama.AsyncClient(host=fake.url)
        answer = await client.chat(model="llama3.2:latest", messages=HELLO, stream=False)
        assert answer.message.content == "You asked 'hi'; I saw 2 messages."
        listed = await client.list()
        assert [model.model for model in listed.models] == ["llama3.2:latest", "qwen3:8b"]


async def test_ollama_errors_as_ollama_does() -> None:
    async with FakeOllama() as fake:
        client = ollama.AsyncClient(host=fake.url)
        with pytest.raises(ollama.ResponseError) as missing:
            await client.chat(model="mistral", messages=HELLO, stream=False)
        assert missing.value.status_code == 404
        assert missing.value.error == 'model "mistral" not found, try pulling it first'
        fake.script.fail(500, message="llama runner process has terminated")
        with pytest.raises(ollama.ResponseError) as broken:
            await client.chat(model="llama3.2", messages=HELLO, stream=False)
        assert broken.value.status_code == 500
        assert "runner process" in broken.value.error
        # used up: the next one is answered
        answer = await client.chat(model="llama3.2", messages=HELLO, stream=False)
        assert answer.message.content


async def test_openai_answers_and_counts_tokens() -> None:
    async with FakeOpenAI(api_key="sk-test") as fake:
        fake.script.rules["hi"] = "Hello there!"
        client = openai.AsyncOpenAI(base_url=fake.url, api_key="sk-test", max_retries=0)
        completion = await client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
        assert completion.choices[0].message.content == "Hello there!"
        assert completion.choices[0].finish_reason == "stop"
        assert completion.usage is not None and completion.usage.completion_tokens == 2
        assert fake.headers[0]["authorization"] == "Bearer sk-test"
        assert [model.id async for model in client.models.list()] == ["gpt-4o-mini"]


async def test_openai_errors_as_openai_does() -> None:
    async with FakeOpenAI(api_key="sk-test") as fake:
        wrong = openai.AsyncOpenAI(base_url=fake.url, api_key="sk-wrong-key", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as refused:
            await wrong.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
        assert refused.value.code == "invalid_api_key"
        assert "Incorrect API key provided: sk-*****-key" in refused.value.message

        client = openai.AsyncOpenAI(base_url=fake.url, api_key="sk-test", max_retries=0)
        fake.script.fail(429, retry_after="20")
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
        assert limited.value.response.headers["retry-after"] == "20"
        assert limited.value.code == "rate_limit_exceeded"

        fake.script.fail(500)
        with pytest.raises(openai.InternalServerError) as broken:
            await client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
        assert broken.value.type == "server_error"

        with pytest.raises(openai.NotFoundError) as unknown:
            await client.chat.completions.create(model="gpt-9", messages=HELLO)  # type: ignore[arg-type]
        assert unknown.value.code == "model_not_found"


async def test_the_openai_sdk_waits_out_a_short_retry_after_itself() -> None:
    """The fake's 429 is one the SDK's own retries understand (WaddleBot turns them off)."""
    async with FakeOpenAI(api_key="sk-test") as fake:
        fake.script.fail(429, retry_after="0")
        client = openai.AsyncOpenAI(base_url=fake.url, api_key="sk-test", max_retries=1)
        completion = await client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
        assert completion.choices[0].message.content == "You asked 'hi'; I saw 2 messages."
        assert len(fake.script.chats) == 2
