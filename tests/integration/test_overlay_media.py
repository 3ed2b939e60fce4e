"""Overlay media end to end over real HTTP: uploading alert images and sounds through the API
(type read from the file, size limits, quotas, roles), listing and deleting them, the
browser_source serving them to the pages with the overlay token and for-good cache headers,
and an alert naming one. Embedded and distributed, with the local-folder object store; once
with the S3 adapter against moto."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.support.community_api import Api, bearer, community_api
from tests.support.harness import say
from tests.support.media_files import MP3, OGG, png
from tests.support.overlays import open_feed
from tests.support.s3 import fake_aws_credentials, make_bucket, moto_s3
from waddlebot.features.identity import apikeys
from waddlebot.features.overlay.web import (
    CONTENT_SECURITY_POLICY,
    content_security_policy,
    portal_origin,
)
from waddlebot.infra.secretbox import SecretBox
from waddlebot.settings import Settings

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "secret_keys": [SecretStr(SecretBox.generate_key())],
            "object_store_dir": str(tmp_path / "objects"),
            "overlay_media_image_max_bytes": 4096,
            "overlay_media_sound_max_bytes": 8192,
            "overlay_media_max_files": 3,
            "overlay_media_quota_bytes": 12_000,
        }
    )


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with community_api(settings) as found:
        yield found


def base(api: Api, community: int | None = None) -> str:
    return f"/api/v1/overlay/communities/{community or api.a}/media"


async def upload(
    api: Api, data: bytes, content_type: str = "application/octet-stream", *, to: int = 0
) -> dict[str, object]:
    """Upload as community a's moderator (or into community ``to`` as the operator)."""
    headers = api.service if to else api.moderator_a
    answer = await api.http.post(
        base(api, to), content=data, headers={**headers, "Content-Type": content_type}
    )
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


async def test_uploads_are_checked_listed_served_and_deleted(api: Api) -> None:
    http = api.http
    created = await http.post(
        base(api), content=png(), headers={**api.moderator_a, "Content-Type": "image/png"}
    )
    assert created.status_code == 201, created.text
    image = created.json()
    assert image["kind"] == "image" and image["content_type"] == "image/png"
    assert image["media_id"].endswith(".png") and len(image["media_id"]) == 20
    assert image["size"] == len(png())
    again = await http.post(base(api), content=png(), headers=api.admin_a)
    assert (again.status_code, again.json()) == (200, image)  # the same file is one file
    sound = await upload(api, MP3, "image/png")  # what the file is counts, not what it says
    assert (sound["kind"], sound["content_type"]) == ("sound", "audio/mpeg")

    text = await http.post(
        base(api), content=b"just some text\n", headers={**api.admin_a, "Content-Type": "image/png"}
    )
    assert text.status_code == 415
    assert text.json()["detail"].startswith("that is not an image or a sound a page can use")
    large = await http.post(base(api), content=png(padding=5000), headers=api.admin_a)
    assert large.status_code == 413
    assert large.json()["detail"] == "that image is 5 KiB: images may be 4 KiB at most"
    huge = await http.post(base(api), content=MP3 + b"\x00" * 9000, headers=api.admin_a)
    assert huge.status_code == 413
    assert huge.json()["code"] == "content_too_large"

    member = await api.runtime.directory.ensure_identity("twitch", "3", login="vi")
    await api.runtime.directory.set_role(api.a, member, "member")
    _, key = await apikeys.create_key(api.runtime.db, "vi", kind="user", user_id=member)
    for refused in (
        await http.post(base(api), content=png(), headers=bearer(key)),
        await http.get(base(api), headers=bearer(key)),
        await http.delete(f"{base(api)}/{image['media_id']}", headers=bearer(key)),
        await http.get(base(api, api.b), headers=api.moderator_a),
    ):
        assert refused.status_code == 403, refused.text

    first = await http.get(base(api), params={"limit": 1}, headers=api.moderator_a)
    assert first.status_code == 200 and first.json()["next"]
    second = await http.get(
        base(api), params={"limit": 1, "cursor": first.json()["next"]}, headers=api.moderator_a
    )
    listed = first.json()["items"] + second.json()["items"]
    assert second.json()["next"] is None
    assert sorted(listed, key=lambda f: f["media_id"]) == sorted(
        [image, sound], key=lambda f: f["media_id"]
    )

    token = await api.runtime.overlay_tokens.current(api.a, actor="test")
    url = f"/overlay/{token}/uploads/{image['media_id']}"
    served = await http.get(url)
    assert served.status_code == 200 and served.content == png()
    assert served.headers["content-type"] == "image/png"
    assert served.headers["cache-control"] == IMMUTABLE
    assert served.headers["x-content-type-options"] == "nosniff"
    etag = served.headers["etag"]
    assert etag == f'"{image["media_id"]}"'
    cached = await http.get(url, headers={"If-None-Match": f'"other", {etag}'})
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["etag"] == etag and cached.headers["cache-control"] == IMMUTABLE
    played = await http.get(f"/overlay/{token}/uploads/{sound['media_id']}")
    assert played.headers["content-type"] == "audio/mpeg" and played.content == MP3
    other = await api.runtime.overlay_tokens.current(api.b, actor="test")
    assert (await http.get(f"/overlay/{other}/uploads/{image['media_id']}")).status_code == 404
    assert (await http.get(f"/overlay/{'x' * 32}/uploads/{image['media_id']}")).status_code == 404
    page = await http.get(f"/overlay/{token}/alerts")
    policy = content_security_policy(portal=portal_origin(api.runtime))
    assert page.headers["content-security-policy"] == policy
    assert "img-src 'self'" in CONTENT_SECURITY_POLICY
    assert "media-src 'self'" in CONTENT_SECURITY_POLICY

    deleted = await http.delete(f"{base(api)}/{image['media_id']}", headers=api.moderator_a)
    assert deleted.status_code == 204
    assert (await http.get(url)).status_code == 404
    gone = await http.delete(f"{base(api)}/{image['media_id']}", headers=api.moderator_a)
    assert gone.status_code == 404
    bad = await http.delete(f"{base(api)}/../secrets", headers=api.moderator_a)
    assert bad.status_code in (404, 422)
    listing = await http.get(base(api), headers=api.moderator_a)
    assert listing.json() == {"items": [sound], "next": None}

    await api.runtime.audit.flush()
    actions = [
        (entry.action, entry.target)
        for entry in await api.runtime.audit.recent()
        if entry.action.startswith("overlay.media.")
    ]
    assert sorted(actions) == sorted(
        [
            ("overlay.media.upload", f"overlay_media:{image['media_id']}"),
            ("overlay.media.upload", f"overlay_media:{sound['media_id']}"),
            ("overlay.media.delete", f"overlay_media:{image['media_id']}"),
        ]
    )


async def test_a_community_keeps_a_limited_number_of_files_and_bytes(api: Api) -> None:
    await upload(api, png())
    await upload(api, MP3 + b"\x00" * 5000)
    big = await api.http.post(base(api), content=OGG + b"\x00" * 7000, headers=api.moderator_a)
    assert big.status_code == 409, big.text  # 12 KiB may be kept: this one would go over
    assert big.json()["detail"] == (
        "this community keeps 5 KiB of files and may keep 12 KiB, so this one (7 KiB) does not "
        f"fit: delete one you no longer use first (DELETE /api/v1/overlay/communities/{api.a}"
        "/media/<media_id>; GET .../media lists them)"
    )
    await upload(api, OGG)
    fourth = await api.http.post(base(api), content=png(padding=10), headers=api.moderator_a)
    assert fourth.status_code == 409
    assert fourth.json()["detail"] == (
        "this community keeps 3 files, the most it may: delete one you no longer use first "
        f"(DELETE /api/v1/overlay/communities/{api.a}/media/<media_id>; GET .../media lists them)"
    )
    again = await api.http.post(base(api), content=png(), headers=api.moderator_a)
    assert again.status_code == 200  # a file it has already is no new file
    other = await api.http.post(base(api, api.b), content=png(), headers=api.service)
    assert other.status_code == 201  # the limits are each community's own


async def test_an_alert_names_an_uploaded_image_and_sound(api: Api) -> None:
    console = (await api.runtime.directory.resolve_entity("console:local", "console")).community_id
    image, sound = await upload(api, png(), to=console), await upload(api, MP3, to=console)
    token = await api.runtime.overlay_tokens.current(console, actor="test")
    feed = await open_feed(f"{str(api.http.base_url).rstrip('/')}/overlay/{token}/alerts")
    try:
        lines = await say(
            api.runtime,
            f"!overlay test alerts {sound['media_id']} {image['media_id']}",
            user="mia",
            role="moderator",
        )
        assert lines == ["Sent a test to the alerts overlay."]
        update = await feed.next()
        assert (update["type"], update["kind"]) == ("update", "alerts")
        assert update["data"] == {
            "kind": "follow",
            "name": "mia",
            "image": image["media_id"],
            "sound": sound["media_id"],
        }
    finally:
        await feed.socket.close()
    refused = await say(api.runtime, "!overlay test alerts ding.mp3", user="mia", role="moderator")
    assert refused == [
        "Usage: !overlay url [kind] | rotate | test [kind] | test alerts <media id>... | "
        "clear [kind] ('ding.mp3' is not a media id: upload an image or a sound through the API "
        "(POST /api/v1/overlay/communities/<id>/media) and use the media_id it gives)"
    ]


@pytest.mark.parametrize("mode", ["embedded"])
async def test_uploads_kept_in_an_s3_bucket(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_aws_credentials(monkeypatch, tmp_path)
    with moto_s3() as endpoint:
        bucket = await make_bucket(endpoint)
        configured = settings.model_copy(
            update={
                "object_store": "s3",
                "object_store_bucket": bucket,
                "object_store_prefix": "bot",
                "object_store_endpoint_url": endpoint.url,
                "object_store_region": endpoint.region,
            }
        )
        async with community_api(configured) as api:
            sound = await upload(api, MP3)
            listing = await api.http.get(base(api), headers=api.moderator_a)
            assert listing.json() == {"items": [sound], "next": None}
            token = await api.runtime.overlay_tokens.current(api.a, actor="test")
            served = await api.http.get(f"/overlay/{token}/uploads/{sound['media_id']}")
            assert served.content == MP3 and served.headers["content-type"] == "audio/mpeg"
            deleted = await api.http.delete(
                f"{base(api)}/{sound['media_id']}", headers=api.moderator_a
            )
            assert deleted.status_code == 204
            assert (await api.http.get(base(api), headers=api.moderator_a)).json()["items"] == []
        assert not (tmp_path / "objects").exists()  # nothing went to the local folder
