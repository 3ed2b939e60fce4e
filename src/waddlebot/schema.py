"""JSON Schema export of the public contracts (``waddlebot schema``)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from waddlebot.core.contract import ModuleRequest, ModuleResponse, OutboundMessage
from waddlebot.core.events import Event
from waddlebot.core.manifest import Manifest

CONTRACTS: dict[str, type[BaseModel]] = {
    "event": Event,
    "module-request": ModuleRequest,
    "module-response": ModuleResponse,
    "outbound-message": OutboundMessage,
    "manifest": Manifest,
}


def schemas() -> dict[str, dict[str, object]]:
    return {name: model.model_json_schema() for name, model in CONTRACTS.items()}


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
