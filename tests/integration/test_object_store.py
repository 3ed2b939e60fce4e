"""The object store port, the same tests for both adapters: a directory, and S3 spoken to
over HTTP (moto's server on loopback) by the real aiobotocore client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.harness import make_settings
from tests.support.s3 import S3Endpoint, fake_aws_credentials, make_bucket, moto_s3
from waddlebot.core.errors import ConfigurationError, ServiceUnavailable
from waddlebot.infra.objects import (
    InvalidKey,
    LocalObjectStore,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    build_object_store,
)
from waddlebot.infra.objects_s3 import S3ObjectStore


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ObjectStore]:
    made: ObjectStore
    if request.param == "local":
        made = LocalObjectStore(tmp_path / "objects")
    else:
        endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
        fake_aws_credentials(monkeypatch, tmp_path)
        bucket = await make_bucket(endpoint)
        made = S3ObjectStore(
            bucket, prefix="backups/", region=endpoint.region, endpoint_url=endpoint.url
        )
    try:
        yield made
    finally:
        await made.close()


async def test_put_get_round_trip_keeps_bytes_and_content_type(store: ObjectStore) -> None:
    body = bytes(range(256)) * 10
    await store.put("exports/community-1/a.json", body, "application/json")
    got = await store.get("exports/community-1/a.json")
    assert got.data == body
    assert got.content_type == "application/json"
    assert got.key == "exports/community-1/a.json"


async def test_put_replaces(store: ObjectStore) -> None:
    await store.put("k", b"one", "text/plain")
    await store.put("k", b"two", "text/plain; charset=utf-8")
    got = await store.get("k")
    assert (got.data, got.content_type) == (b"two", "text/plain; charset=utf-8")


async def test_missing_object_is_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound, match="nothing/here"):
        await store.get("nothing/here")


async def test_delete_says_whether_there_was_one(store: ObjectStore) -> None:
    await store.put("gone.bin", b"x")
    assert await store.delete("gone.bin") is True
    assert await store.delete("gone.bin") is False
    with pytest.raises(ObjectNotFound):
        await store.get("gone.bin")


async def test_list_by_prefix_sorted_with_sizes(store: ObjectStore) -> None:
    await store.put("exports/community-2/b.json", b"22")
    await store.put("exports/community-2/a.json", b"1")
    await store.put("exports/community-20/c.json", b"333")
    await store.put("media/x.png", b"4444", "image/png")
    assert await store.list("exports/community-2/") == [
        ObjectInfo("exports/community-2/a.json", 1),
        ObjectInfo("exports/community-2/b.json", 2),
    ]
    assert [info.key for info in await store.list()] == [
        "exports/community-2/a.json",
        "exports/community-2/b.json",
        "exports/community-20/c.json",
        "media/x.png",
    ]


@pytest.mark.parametrize(
    "key", ["", "/abs", "a/../b", "a//b", "./a", "a\\b", "a/.", "x.content-type"]
)
async def test_keys_that_could_escape_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        await store.put(key, b"x")


async def test_a_bad_content_type_is_refused(store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="content type"):
        await store.put("k", b"x", "not a type")


async def test_s3_objects_sit_under_the_prefix(
    s3_endpoint: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiobotocore.session import get_session

    fake_aws_credentials(monkeypatch, tmp_path)
    bucket = await make_bucket(s3_endpoint)
    store = S3ObjectStore(
        bucket, prefix="/team/wb/", region=s3_endpoint.region, endpoint_url=s3_endpoint.url
    )
    try:
        await store.put("a/b.json", b"{}", "application/json")
        assert store.url_of("a/b.json") == f"s3://{bucket}/team/wb/a/b.json"
    finally:
        await store.close()
    async with get_session().create_client(
        "s3", region_name=s3_endpoint.region, endpoint_url=s3_endpoint.url
    ) as client:
        listed = await client.list_objects_v2(Bucket=bucket)
    assert [item["Key"] for item in listed["Contents"]] == ["team/wb/a/b.json"]


async def test_s3_missing_bucket_is_a_setting(
    s3_endpoint: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_aws_credentials(monkeypatch, tmp_path)
    store = S3ObjectStore("no-such-bucket-here", region="us-east-1", endpoint_url=s3_endpoint.url)
    try:
        with pytest.raises(ConfigurationError, match="does not exist") as caught:
            await store.put("k", b"x")
        assert caught.value.setting == "WADDLEBOT_OBJECT_STORE_BUCKET"
    finally:
        await store.close()


async def test_s3_that_does_not_answer_is_an_outage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int
) -> None:
    fake_aws_credentials(monkeypatch, tmp_path)
    store = S3ObjectStore(
        "bucket",
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{unused_tcp_port}",
        timeout=5,
    )
    try:
        with pytest.raises(ServiceUnavailable, match="does not answer"):
            await store.get("k")
    finally:
        await store.close()


def test_settings_choose_the_adapter(tmp_path: Path) -> None:
    local = build_object_store(make_settings(data_dir=str(tmp_path)))
    assert isinstance(local, LocalObjectStore)
    assert local.location == str((tmp_path / "objects").resolve())
    s3 = build_object_store(
        make_settings(
            object_store="s3",
            object_store_bucket="b",
            object_store_prefix="p",
            object_store_endpoint_url="http://127.0.0.1:9000",
        )
    )
    assert isinstance(s3, S3ObjectStore)
    assert s3.location == "s3://b/p at http://127.0.0.1:9000"
    with pytest.raises(ConfigurationError) as caught:
        build_object_store(make_settings(object_store="s3"))
    assert caught.value.setting == "WADDLEBOT_OBJECT_STORE_BUCKET"
