"""An S3 endpoint on loopback: moto's server mode, spoken to over real HTTP by the real
aiobotocore client. Moto keeps its buckets in this process, so each test makes its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    region: str = "us-east-1"


@contextmanager
def moto_s3() -> Iterator[S3Endpoint]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Endpoint(f"http://{host}:{port}")
    finally:
        server.stop()


def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch, nowhere: Path) -> None:
    """Credentials for the AWS chain to find (moto accepts any); no profile file is read."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(nowhere / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere / "aws-credentials"))


async def make_bucket(endpoint: S3Endpoint) -> str:
    from aiobotocore.session import get_session

    name = f"wb-{uuid.uuid4().hex[:12]}"
    async with get_session().create_client(
        "s3", region_name=endpoint.region, endpoint_url=endpoint.url
    ) as client:
        await client.create_bucket(Bucket=name)
    return name
