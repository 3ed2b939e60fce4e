"""What the signed HTTP function engine accepts before any call: its URL, its secret, the
engine name the catalogue stores, and the zips ``waddlebot module package`` makes for it."""

from __future__ import annotations

import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from waddlebot.core.errors import ConfigurationError
from waddlebot.serverless.clients import FunctionClients
from waddlebot.serverless.http_function import HttpFunctionClient, function_url
from waddlebot.serverless.package import package
from waddlebot.serverless.settings import ServerlessSettings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "modules"
SECRET = "a-secret-for-the-eightball-function"


@pytest.mark.parametrize(
    "url",
    [
        "https://abc123.lambda-url.eu-west-1.on.aws/",
        "https://openwhisk.example/api/v1/web/guest/default/eightball.http",
        "http://gateway.openfaas:8080/function/eightball",
        "https://eightball-xyz-ew.a.run.app",
    ],
)
def test_a_function_url_is_kept_as_given(url: str) -> None:
    assert function_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://host/fn", "needs an http(s)://host[:port] URL"),
        ("https://host/fn?code=secret", "must not have a query or fragment"),
        ("https://host/fn#part", "must not have a query or fragment"),
        ("https://user:pass@host/fn", "must not carry a user name or password"),
        ("https://host:99999/fn", "has an invalid port"),
    ],
)
def test_a_function_url_that_cannot_be_called_is_refused(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        function_url(url)


async def test_the_function_engine_makes_an_http_function_client() -> None:
    clients = FunctionClients(ServerlessSettings())
    client = clients.client("function", "https://fn.example/run", SECRET, timeout=3.0)
    try:
        assert isinstance(client, HttpFunctionClient)
        assert client.url == "https://fn.example/run"
    finally:
        await client.close()
    with pytest.raises(ConfigurationError, match="must not have a query"):
        clients.client("function", "https://fn.example/run?x=1", SECRET, timeout=3.0)
    with pytest.raises(ConfigurationError, match="non-empty secret"):
        clients.client("function", "https://fn.example/run", "", timeout=3.0)


@pytest.fixture
def fixtures_path() -> Iterator[None]:
    sys.path.insert(0, str(FIXTURES))
    try:
        yield
    finally:
        sys.path.remove(str(FIXTURES))


@pytest.mark.parametrize(
    ("target", "entry", "made_with"),
    [
        (
            "lambda-url",
            "waddlebot_handler.py",
            "lambda_url_handler(load_module('eightball:module'))",
        ),
        ("openwhisk-web", "__main__.py", "openwhisk_web_main(load_module('eightball:module'))"),
    ],
)
def test_the_signed_targets_read_their_secret_when_called(
    fixtures_path: None,
    tmp_path: Path,
    target: str,
    entry: str,
    made_with: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WADDLEBOT_MODULE_SECRET", SECRET)  # set here: it must not reach the zip
    built = package("eightball:module", target, tmp_path)
    assert built.path.name == f"eightball-{target}.zip"
    assert built.description["secret_variable"] == "WADDLEBOT_MODULE_SECRET"
    with zipfile.ZipFile(built.path) as archive:
        source = archive.read(entry).decode()
        everything = b"".join(archive.read(name) for name in archive.namelist())
    assert made_with in source
    assert SECRET.encode() not in everything
