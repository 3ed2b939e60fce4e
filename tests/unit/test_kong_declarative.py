"""What the Kong broker puts in Kong's configuration for the API keys, and its settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.support.harness import make_settings
from waddlebot.features.kong.declarative import Credential, with_consumers
from waddlebot.features.kong.sealing import key_sealer
from waddlebot.features.kong.settings import KongSettings
from waddlebot.infra.secretbox import SecretBox


def test_each_key_is_a_consumer_with_its_key_as_credential() -> None:
    routes = {"_format_version": "3.0", "services": []}
    config = with_consumers(
        routes, [Credential("k1", "service", "wbk_k1_x"), Credential("k2", "user", "wbk_k2_y")]
    )
    assert config == {
        "_format_version": "3.0",
        "services": [],
        "consumers": [
            {
                "username": "waddlebot-k1",
                "custom_id": "k1",
                "tags": ["waddlebot", "kind-service"],
            },
            {"username": "waddlebot-k2", "custom_id": "k2", "tags": ["waddlebot", "kind-user"]},
        ],
        "keyauth_credentials": [
            {"consumer": "waddlebot-k1", "key": "wbk_k1_x", "tags": ["waddlebot"]},
            {"consumer": "waddlebot-k2", "key": "wbk_k2_y", "tags": ["waddlebot"]},
        ],
    }
    assert routes == {"_format_version": "3.0", "services": []}  # left as it was


def test_the_admin_urls_are_a_comma_separated_list() -> None:
    settings = KongSettings.model_validate(
        {"kong_admin_urls": " http://kong-0:8001/, http://kong-1:8001 ,"}
    )
    assert settings.kong_admin_urls == ["http://kong-0:8001", "http://kong-1:8001"]
    assert settings.kong_broker_on
    assert not KongSettings().kong_broker_on


def test_an_upstream_must_name_the_service() -> None:
    with pytest.raises(ValidationError, match=r"must contain \{name\}"):
        KongSettings(kong_upstream="http://api:8000")


def test_keys_are_sealed_only_while_the_broker_is_on(tmp_path: object) -> None:
    secret = SecretBox.generate_key()
    off = make_settings(secret_keys=[secret], data_dir=str(tmp_path))
    assert key_sealer(off) is None
    on = make_settings(
        secret_keys=[secret], kong_admin_urls=["http://kong:8001"], data_dir=str(tmp_path)
    )
    sealer = key_sealer(on)
    assert sealer is not None
    assert SecretBox([secret]).decrypt(sealer.encrypt("wbk_key")) == "wbk_key"
