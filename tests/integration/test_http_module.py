"""A module served alone by a real uvicorn server on loopback, called through HttpModuleClient."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import orjson
import pytest
import uvicorn

import waddlebot.sdk.server as server_module
from waddlebot.core.contract import Caller, Identity, ModuleRequest, ModuleResponse
from waddlebot.core.events import Amounts, EventType
from waddlebot.infra.signing import sign, verify
from waddlebot.infra.webhook_signing import ID_HEADER, sign_message, verify_message
from waddlebot.router.remote import HttpModuleClient, ModuleCallError, parse_remote_spec
from waddlebot.sdk import Context, Module, UsageError
from waddlebot.sdk.server import create_module_app

SECRET = b"integration-secret"


def build_module(calls: Counter[str]) -> Module:
    module = Module("echoer", version="2.3.4", description="test module")

    @module.command("echo", usage="<words...>", description="echoes the request back")
    async def echo(ctx: Context) -> None:
        calls["echo"] += 1
        ctx.reply(ctx.request.model_dump_json())
        ctx.direct("psst")
        ctx.overlay("banner", {"args": ctx.args})
        ctx.action("whisper", text="psst again", to_user="someone")

    @module.command("fail")
    async def fail(ctx: Context) -> None:
        calls["fail"] += 1
        raise RuntimeError("internal detail that must not leak")

    @module.command("usage", usage="<name>")
    async def usage(ctx: Context) -> None:
        calls["usage"] += 1
        raise UsageError("need a name")

    @module.command("slow")
    async def slow(ctx: Context) -> str:
        calls["slow"] += 1
        await asyncio.sleep(float(ctx.args[0]) if ctx.args else 1.0)
        return "finally"

    @module.on(EventType.FOLLOW)
    async def on_follow(ctx: Context) -> str:
        calls["follow"] += 1
        return f"thanks {ctx.caller_name}"

    return module


@dataclass
class Served:
    module: Module
    calls: Counter[str]
    base_url: str


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    calls: Counter[str] = Counter()
    module = build_module(calls)
    config = uvicorn.Config(
        create_module_app(module, SECRET),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        if task.done():
            task.result()  # surfaces the startup error
            pytest.fail("uvicorn stopped before starting")
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 10 s")
        await asyncio.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield Served(module, calls, f"http://{host}:{port}")
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)


@pytest.fixture
async def client(served: Served) -> AsyncIterator[HttpModuleClient]:
    remote = await HttpModuleClient.connect(served.base_url, SECRET, timeout=2.0)
    try:
        yield remote
    finally:
        await remote.close()


def make_request(command: str, *args: str, **fields: Any) -> ModuleRequest:
    return ModuleRequest(
        session_id="sess-1",
        community_id=42,
        entity_id="twitch:chan",
        platform="twitch",
        channel_id="chan",
        message_id="msg-7",
        command=command,
        prefix="!",
        args=list(args),
        raw_text=f"!{command} {' '.join(args)}".strip(),
        caller=Caller(
            user_id=9,
            identity=Identity(platform="twitch", user_id="u9", login="pingu", display_name="Pingu"),
            level=10,
        ),
        amounts=Amounts(bits=100),
        config={"greeting": "hi", "nested": {"n": [1, 2]}},
        **fields,
    )


async def raw_post(base_url: str, body: bytes, headers: dict[str, str]) -> httpx2.Response:
    async with httpx2.AsyncClient(base_url=base_url, timeout=5) as http:
        return await http.post(
            "/v1/handle", content=body, headers={**headers, "content-type": "application/json"}
        )


async def test_manifest_matches_module(served: Served, client: HttpModuleClient) -> None:
    assert client.manifest == served.module.manifest
    assert client.name == "echoer"
    assert [c.name for c in client.manifest.commands] == ["echo", "fail", "usage", "slow"]
    assert client.manifest.events == (EventType.FOLLOW,)


async def test_echo_round_trips_request_fields(served: Served, client: HttpModuleClient) -> None:
    request = make_request("echo", "a", "b c", "é✓")
    response = await client.call(request)
    assert isinstance(response, ModuleResponse)
    seen = ModuleRequest.model_validate_json(response.replies[0].text)
    assert seen == request
    assert response.replies[0].reply_to == "msg-7"
    assert response.replies[1].visibility == "direct"
    assert response.replies[1].to_user == "u9"
    assert response.overlay[0].kind == "banner"
    assert response.overlay[0].payload == {"args": ["a", "b c", "é✓"]}
    assert response.actions[0].type == "whisper"
    assert response.actions[0].params.model_dump() == {"text": "psst again", "to_user": "someone"}
    assert served.calls["echo"] == 1


async def test_event_request(client: HttpModuleClient) -> None:
    request = make_request("", kind="event", event_type=EventType.FOLLOW)
    response = await client.call(request)
    assert [r.text for r in response.replies] == ["thanks Pingu"]


async def test_usage_error_comes_back_as_usage_error(client: HttpModuleClient) -> None:
    response = await client.call(make_request("usage"))
    assert response.usage_error == "need a name"
    assert response.replies == []


async def test_handler_exception_is_a_call_error_and_server_keeps_serving(
    served: Served, client: HttpModuleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged: list[tuple[str, dict[str, Any]]] = []

    class Recorder:
        def exception(self, event: str, **kw: Any) -> None:
            logged.append((event, kw))

        def warning(self, event: str, **kw: Any) -> None:
            logged.append((event, kw))

    monkeypatch.setattr(server_module, "log", Recorder())
    with pytest.raises(ModuleCallError) as info:
        await client.call(make_request("fail"))
    assert info.value.module == "echoer"
    assert "500" in info.value.reason and "module error" in info.value.reason
    assert "internal detail" not in str(info.value)
    assert served.calls["fail"] == 1
    assert logged and logged[0][0] == "module handler failed"
    assert logged[0][1]["command"] == "fail"

    # the same server (and the same pooled client) still answers
    response = await client.call(make_request("echo", "again"))
    assert ModuleRequest.model_validate_json(response.replies[0].text).args == ["again"]


async def test_handler_exception_body_has_no_traceback(served: Served) -> None:
    body = make_request("fail").model_dump_json().encode()
    response = await raw_post(served.base_url, body, sign(SECRET, body))
    assert response.status_code == 500
    assert response.json() == {"detail": "module error"}
    assert b"Traceback" not in response.content
    verify(SECRET, response.content, response.headers)  # errors are signed too


@pytest.mark.parametrize("scheme", ["standard", "old"])
async def test_calls_signed_either_way_are_answered_and_a_replay_is_refused(
    served: Served, scheme: str
) -> None:
    """A router of the previous release signs the old way only; this one signs both ways and
    the module checks the Standard Webhooks headers. Either is answered, once."""
    body = make_request("echo", scheme).model_dump_json().encode()
    headers = sign_message(SECRET, body)
    if scheme == "old":
        headers = {k: v for k, v in headers.items() if not k.startswith("webhook-")}
    response = await raw_post(served.base_url, body, headers)
    assert response.status_code == 200
    answering = headers.get(ID_HEADER)
    verified = verify_message(SECRET, response.content, response.headers, answering=answering)
    assert verified.message_id is not None  # the answer is signed the standard way as well
    assert served.calls["echo"] == 1

    again = await raw_post(served.base_url, body, headers)
    assert again.status_code == 401
    assert "replay" in again.json()["detail"]
    assert served.calls["echo"] == 1


async def test_unknown_command_is_a_call_error(client: HttpModuleClient) -> None:
    with pytest.raises(ModuleCallError):
        await client.call(make_request("nope"))


async def test_slow_handler_times_out(served: Served) -> None:
    fast = await HttpModuleClient.connect(served.base_url, SECRET, timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await fast.call(make_request("slow", "1.5"))
        assert time.monotonic() - started < 1.2
        # the timeout does not poison the client
        response = await fast.call(make_request("echo", "after"))
        assert response.replies
    finally:
        await fast.close()


async def test_wrong_secret_gets_401_and_handler_never_runs(served: Served) -> None:
    body = make_request("echo", "x").model_dump_json().encode()
    response = await raw_post(served.base_url, body, sign(b"wrong-secret", body))
    assert response.status_code == 401
    assert "signature" in response.json()["detail"]
    assert served.calls["echo"] == 0

    # through the client as well: its manifest check refuses the wrong secret at connect time
    with pytest.raises(ModuleCallError, match="signature"):
        await HttpModuleClient.connect(served.base_url, b"wrong-secret", attempts=1)
    # and a call signed with the wrong secret comes back as a call error
    wrong = HttpModuleClient(served.base_url, b"wrong-secret", manifest=served.module.manifest)
    try:
        with pytest.raises(ModuleCallError, match="401"):
            await wrong.call(make_request("echo", "x"))
    finally:
        await wrong.close()
    assert served.calls["echo"] == 0


async def test_unsigned_request_is_refused(served: Served) -> None:
    body = make_request("echo").model_dump_json().encode()
    response = await raw_post(served.base_url, body, {})
    assert response.status_code == 401
    assert "missing" in response.json()["detail"]
    assert served.calls["echo"] == 0


async def test_replayed_old_timestamp_is_refused(served: Served) -> None:
    body = make_request("echo", "replay").model_dump_json().encode()
    old = sign(SECRET, body, timestamp=int(time.time()) - 3600)
    response = await raw_post(served.base_url, body, old)
    assert response.status_code == 401
    assert "too old" in response.json()["detail"]
    assert served.calls["echo"] == 0


async def test_tampered_body_is_refused(served: Served) -> None:
    body = make_request("echo", "original").model_dump_json().encode()
    headers = sign(SECRET, body)
    tampered = body.replace(b"original", b"tampered")
    response = await raw_post(served.base_url, tampered, headers)
    assert response.status_code == 401
    assert served.calls["echo"] == 0


async def test_invalid_request_body_is_422(served: Served) -> None:
    body = orjson.dumps({"command": "echo"})  # no session_id, community_id...
    response = await raw_post(served.base_url, body, sign(SECRET, body))
    assert response.status_code == 422
    assert response.json()["detail"]
    garbage = b"not json at all"
    response = await raw_post(served.base_url, garbage, sign(SECRET, garbage))
    assert response.status_code == 422
    assert served.calls["echo"] == 0


async def test_healthz(served: Served) -> None:
    async with httpx2.AsyncClient(base_url=served.base_url) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "module": "echoer", "version": "2.3.4"}


async def test_unsigned_response_is_refused() -> None:
    """A man in the middle (or a misconfigured proxy) answering without the secret."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/v1/manifest":
            body = build_module(Counter()).manifest.model_dump_json().encode()
            return httpx2.Response(200, content=body, headers=sign(SECRET, body))
        return httpx2.Response(200, json=ModuleResponse.say("forged").model_dump(mode="json"))

    remote = await HttpModuleClient.connect(
        "http://module.test", SECRET, transport=httpx2.MockTransport(handler)
    )
    try:
        with pytest.raises(ModuleCallError, match="signature"):
            await remote.call(make_request("echo"))
    finally:
        await remote.close()


async def test_signed_invalid_json_response_is_refused() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/v1/manifest":
            body = build_module(Counter()).manifest.model_dump_json().encode()
        else:
            body = b"{not json"
        return httpx2.Response(200, content=body, headers=sign(SECRET, body))

    remote = await HttpModuleClient.connect(
        "http://module.test", SECRET, transport=httpx2.MockTransport(handler)
    )
    try:
        with pytest.raises(ModuleCallError, match="invalid response"):
            await remote.call(make_request("echo"))
    finally:
        await remote.close()


async def test_an_answer_asking_for_an_unknown_action_is_refused() -> None:
    """The actions are a closed set: one the router does not know fails the call, like a
    reply that does not fit the contract, and the wire shape of the known ones is kept."""
    answers = {
        "known": {"actions": [{"type": "whisper", "params": {"text": "hi", "to_user": "u1"}}]},
        "unknown": {"actions": [{"type": "shoutout", "params": {"target": "someone"}}]},
        "bad params": {"actions": [{"type": "community.prefix", "params": {"prefix": "#"}}]},
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/v1/manifest":
            body = build_module(Counter()).manifest.model_dump_json().encode()
        else:
            body = orjson.dumps(answers[orjson.loads(request.content)["command"]])
        return httpx2.Response(200, content=body, headers=sign(SECRET, body))

    remote = await HttpModuleClient.connect(
        "http://module.test", SECRET, transport=httpx2.MockTransport(handler)
    )
    try:
        (whisper,) = (await remote.call(make_request("known"))).actions
        assert whisper.model_dump(mode="json") == answers["known"]["actions"][0]
        for command in ("unknown", "bad params"):
            with pytest.raises(ModuleCallError, match="invalid response"):
                await remote.call(make_request(command))
    finally:
        await remote.close()


async def test_connect_to_nothing_names_the_url() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    with pytest.raises(ModuleCallError, match=r"http://nowhere\.test:1/v1/manifest.*3 attempt"):
        await HttpModuleClient.connect(
            "http://nowhere.test:1",
            SECRET,
            transport=httpx2.MockTransport(refuse),
            attempts=3,
            backoff=0.01,
        )


async def test_connect_retries_until_the_module_is_up() -> None:
    seen = Counter[str]()
    manifest_body = build_module(Counter()).manifest.model_dump_json().encode()

    def flaky(request: httpx2.Request) -> httpx2.Response:
        seen["get"] += 1
        if seen["get"] < 3:
            raise httpx2.ConnectError("not yet", request=request)
        return httpx2.Response(200, content=manifest_body, headers=sign(SECRET, manifest_body))

    remote = await HttpModuleClient.connect(
        "http://later.test", SECRET, transport=httpx2.MockTransport(flaky), backoff=0.01
    )
    try:
        assert remote.name == "echoer"
        assert seen["get"] == 3
    finally:
        await remote.close()


async def test_connect_checks_expected_name(served: Served) -> None:
    with pytest.raises(ModuleCallError, match="not 'other'"):
        await HttpModuleClient.connect(served.base_url, SECRET, expected_name="other")


def test_parse_remote_spec() -> None:
    assert parse_remote_spec("http://127.0.0.1:8001") == (None, "http://127.0.0.1:8001")
    assert parse_remote_spec("greeter=http://h:9/") == ("greeter", "http://h:9")
    assert parse_remote_spec(" https://mod.example/base/ ") == (None, "https://mod.example/base")
    for bad in (
        "",
        "greeter",
        "ftp://h",
        "Bad Name=http://h",
        "=http://h",
        "x=http://h:99999",
        "http://h/?x=1",
        "http://h/#frag",
    ):
        with pytest.raises(ValueError):
            parse_remote_spec(bad)
