"""Runs a packaged function from its zip the way a serverless engine does: in a warm worker
process of its own (a Lambda container, an OpenWhisk action container), imported once, then
given one event at a time. The fake Lambda and the fake OpenWhisk both run functions with it.

The worker is this very file, run as ``python -S -c <this source>``: without ``site``, its
``sys.path`` is the standard library, the zip and the "layer" paths only (PYTHONPATH), so a
zip that forgot a dependency fails to import as it would on the engine. Events go in as JSON
lines on stdin, outcomes come back as JSON lines on a copy of stdout; the function's own
output (``print``, fd 1 and 2) goes to stderr or into the invocation's logs, never into the
protocol. Only the standard library may be imported at the top of this file.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Style = Literal["lambda", "openwhisk"]
"""``lambda``: ``handler(event, context)``; ``openwhisk``: ``main(args)`` with ``__OW_*``
environment variables."""

_STREAM_LIMIT = 16 * 1024 * 1024  # one protocol line holds a whole (6 MB and up) payload


@dataclass
class Outcome:
    """What one invocation came to. ``error`` is set when the function raised (or could not
    be imported, or its process died): ``errorType``, ``errorMessage``, ``stackTrace``."""

    result: Any = None
    error: dict[str, Any] | None = None
    logs: str = ""
    duration_ms: float = 0.0
    timed_out: bool = False
    init_error: bool = False


def default_layer_paths() -> list[str]:
    """The test venv's site-packages: what stands in for a Lambda layer / the runtime image."""
    import sysconfig

    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


@dataclass(eq=False)  # kept in a set by identity
class _Worker:
    process: asyncio.subprocess.Process
    ready: dict[str, Any] = field(default_factory=dict)

    async def send(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        if not line:
            raise EOFError(f"worker exited with status {await self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()


class FunctionRunner:
    """The warm workers of one function: an idle one takes an event, or a new one starts (as
    an engine scales out); a worker that timed out or died is thrown away."""

    def __init__(
        self,
        zip_path: str | Path,
        entry: str,
        *,
        style: Style,
        function_name: str,
        namespace: str = "",
        layer_paths: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``entry`` is ``module.attr`` (``waddlebot_handler.handler``); for OpenWhisk's
        ``__main__.py`` it is ``__main__.main``."""
        self.zip_path = Path(zip_path).resolve()
        if not self.zip_path.is_file():
            raise FileNotFoundError(f"no function zip at {self.zip_path}")
        module, _, attr = entry.rpartition(".")
        if not module or not attr:
            raise ValueError(f"entry {entry!r} is not module.attribute")
        self.entry = (module, attr)
        self.style: Style = style
        self.function_name = function_name
        self.namespace = namespace
        self.layer_paths = default_layer_paths() if layer_paths is None else list(layer_paths)
        self.env = dict(env or {})
        self.cold_starts = 0
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()

    async def _start(self) -> _Worker:
        paths = [str(self.zip_path), *self.layer_paths]
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": os.pathsep.join(paths),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-S",
            "-c",
            Path(__file__).read_text(),
            json.dumps(
                {
                    "zip": str(self.zip_path),
                    "layers": self.layer_paths,
                    "module": self.entry[0],
                    "attr": self.entry[1],
                }
            ),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            limit=_STREAM_LIMIT,
        )
        worker = _Worker(process)
        self._all.add(worker)
        self.cold_starts += 1
        assert process.stdout is not None
        line = await process.stdout.readline()
        worker.ready = json.loads(line) if line else {"error": _exited(await process.wait())}
        return worker

    async def invoke(
        self,
        event: Any,
        *,
        request_id: str,
        timeout: float,
        activation: dict[str, str] | None = None,
    ) -> Outcome:
        """Run the function on ``event``; ``timeout`` seconds is its configured limit (the
        worker is killed past it, as the engine does)."""
        worker = self._idle.pop() if self._idle else await self._start()
        if worker.ready.get("error"):
            await self._discard(worker)
            return Outcome(error=worker.ready["error"], init_error=True)
        message = {
            "event": event,
            "style": self.style,
            "context": {
                "aws_request_id": request_id,
                "function_name": self.function_name,
                "namespace": self.namespace,
                "deadline_ms": int((time.time() + timeout) * 1000),
                **(activation or {}),
            },
        }
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                answer = await worker.send(message)
        except TimeoutError:
            await self._discard(worker)
            return Outcome(duration_ms=timeout * 1000, timed_out=True)
        except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
            await self._discard(worker)
            return Outcome(
                error=_exited(worker.process.returncode, str(exc)),
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        self._idle.append(worker)
        return Outcome(
            result=answer.get("result"),
            error=answer.get("error"),
            logs=answer.get("logs", ""),
            duration_ms=answer.get("duration_ms", 0.0),
        )

    async def _discard(self, worker: _Worker) -> None:
        self._all.discard(worker)
        await worker.stop()

    async def close(self) -> None:
        workers, self._all, self._idle = list(self._all), set(), []
        await asyncio.gather(*(worker.stop() for worker in workers))


def _exited(status: int | None, detail: str = "") -> dict[str, Any]:
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"Runtime exited with error: exit status {status}"
        + (f" ({detail})" if detail else ""),
        "stackTrace": [],
    }


# --- the worker side: runs in the function's process --------------------------------------------


class _LambdaContext:
    """The attributes of Lambda's context object a handler is likely to read."""

    def __init__(self, context: dict[str, Any]) -> None:
        self.aws_request_id: str = context["aws_request_id"]
        self.function_name: str = context["function_name"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = "128"
        self.invoked_function_arn = context.get("function_arn", "")
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "fake"
        self._deadline_ms: int = context["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _load(spec: dict[str, Any]) -> Any:
    import importlib
    import site
    import types
    import zipimport

    for path in spec["layers"]:  # .pth files too (an editable install in the stand-in layer)
        if os.path.isdir(path):
            site.addsitedir(path)
    if spec["module"] == "__main__":  # OpenWhisk's entry file, imported under another name
        code = zipimport.zipimporter(spec["zip"]).get_code("__main__")
        module = types.ModuleType("main__")
        module.__file__ = os.path.join(spec["zip"], "__main__.py")
        sys.modules["main__"] = module
        exec(code, module.__dict__)
    else:
        module = importlib.import_module(spec["module"])
    return getattr(module, spec["attr"])


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _worker_main() -> None:
    spec = json.loads(sys.argv[1])
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the function writes to fd 1 must not reach the protocol
    sys.stdout = sys.stderr
    try:
        function = _load(spec)
    except Exception as exc:
        module = spec["module"]
        error = _error(exc)
        error["errorType"] = "Runtime.ImportModuleError"
        error["errorMessage"] = f"Unable to import module '{module}': {exc}"
        protocol.write(json.dumps({"error": error}) + "\n")
        protocol.flush()
        return
    protocol.write(json.dumps({"ready": True}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        message = json.loads(line)
        context = message["context"]
        logs = io.StringIO()
        answer: dict[str, Any] = {}
        started = time.perf_counter()
        with contextlib.redirect_stdout(logs):
            try:
                if message["style"] == "lambda":
                    answer["result"] = function(message["event"], _LambdaContext(context))
                else:
                    os.environ["__OW_ACTIVATION_ID"] = context["aws_request_id"]
                    os.environ["__OW_ACTION_NAME"] = context["function_name"]
                    os.environ["__OW_NAMESPACE"] = context["namespace"]
                    os.environ["__OW_DEADLINE"] = str(context["deadline_ms"])
                    answer["result"] = function(message["event"])
            except Exception as exc:
                traceback.print_exc(file=logs)
                answer = {"error": _error(exc)}
        answer["duration_ms"] = (time.perf_counter() - started) * 1000
        answer["logs"] = logs.getvalue()
        try:
            text = json.dumps(answer)
        except (TypeError, ValueError) as exc:
            text = json.dumps({"error": _error(exc), "duration_ms": answer["duration_ms"]})
        protocol.write(text + "\n")
        protocol.flush()


if __name__ == "__main__":
    _worker_main()
