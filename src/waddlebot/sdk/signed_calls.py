"""The module's side of a signed call, whatever carries it: ``waddlebot serve module:...``, a
signed HTTP function in a container, behind a Lambda function URL or an OpenWhisk web action.

A call is a POST whose body is checked against its signature (a call seen before is refused:
a replay), then read as a :class:`~waddlebot.core.contract.ModuleRequest`; every answer, the
refusals included, is signed with the same secret, and an answer to a call with the call's
``webhook-id``. Running the handler is left to the caller (an event loop of its own or not).
Kept light: a function's cold start imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from waddlebot.core.contract import ModuleRequest
from waddlebot.core.functions import MANIFEST_REQUEST
from waddlebot.infra.signing import SignatureError
from waddlebot.infra.webhook_signing import ReplayGuard, sign_message, signing_key, verify_message
from waddlebot.sdk import Module

MAX_BODY_BYTES = 1_000_000
JSON = "application/json"

Refused = Callable[[str], None]
"""Told why a call's signature was refused (to log it; the reason holds no secret)."""


@dataclass(frozen=True, slots=True)
class SignedAnswer:
    """An HTTP answer: its status, body and headers (content type and signature)."""

    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class SignedCall:
    """A call whose signature checked out: the request, and the id its answer is signed with."""

    request: ModuleRequest
    answering: str | None


class SignedCalls:
    """Checks the calls to one module and signs its answers. ``answers_manifest``: a signed
    POST of :data:`~waddlebot.core.functions.MANIFEST_REQUEST` is answered with the manifest (a
    function's one endpoint), where the module server has ``GET /v1/manifest``."""

    def __init__(self, module: Module, secret: bytes, *, answers_manifest: bool = False) -> None:
        if not secret:
            raise ValueError("a module's signed calls need a non-empty secret")
        signing_key(secret)  # a whsec_ secret that is no base64 is refused before serving
        self._module = module
        self._secret = secret
        self._answers_manifest = answers_manifest
        self._replays = ReplayGuard()

    def answer(self, status: int, body: bytes, answering: str | None = None) -> SignedAnswer:
        headers = sign_message(self._secret, body, message_id=answering)
        return SignedAnswer(status, body, {"content-type": JSON, **headers})

    def answer_json(self, status: int, payload: Any, answering: str | None = None) -> SignedAnswer:
        return self.answer(status, orjson.dumps(payload), answering)

    def manifest(self, answering: str | None = None) -> SignedAnswer:
        return self.answer(200, self._module.manifest.model_dump_json().encode(), answering)

    def open(
        self,
        method: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        refused: Refused | None = None,
    ) -> SignedCall | SignedAnswer:
        """The call to run, or the answer that ends it here: 405 for another method than POST,
        413 for a body over :data:`MAX_BODY_BYTES` (``None``: the body was cut short there),
        401 for a bad signature or a replay, 422 for no ModuleRequest, the manifest when
        asked for it."""
        if method.upper() != "POST":
            answer = self.answer_json(405, {"detail": f"{method.upper()} not allowed: POST a call"})
            answer.headers["allow"] = "POST"
            return answer
        if body is None or len(body) > MAX_BODY_BYTES:
            return self.answer_json(413, {"detail": "request body too large"})
        try:
            verified = verify_message(self._secret, body, headers, replays=self._replays)
        except SignatureError as exc:
            if refused is not None:
                refused(exc.reason)
            return self.answer_json(401, {"detail": f"invalid signature: {exc.reason}"})
        answering = verified.message_id
        if self._answers_manifest and _asks_for_manifest(body):
            return self.manifest(answering)
        try:
            request = ModuleRequest.model_validate_json(body)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            return self.answer_json(422, {"detail": errors}, answering)
        return SignedCall(request, answering)

    def answered(self, call: SignedCall, response_json: bytes) -> SignedAnswer:
        return self.answer(200, response_json, call.answering)

    def failed(self, call: SignedCall) -> SignedAnswer:
        """The handler raised (logged by the caller): a signed 500 that says no more."""
        return self.answer_json(500, {"detail": "module error"}, call.answering)


def _asks_for_manifest(body: bytes) -> bool:
    try:
        return bool(orjson.loads(body) == MANIFEST_REQUEST)
    except orjson.JSONDecodeError:
        return False
