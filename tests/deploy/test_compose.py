"""deploy/compose.yaml, checked offline (no Docker here): every WaddleBot service runs the one
image the way the Dockerfile expects, with the same settings, each of them a real setting,
after the migrations, behind Kong alone; the database has its replica and Redis its AOF."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.dockerfile import read_stages
from waddlebot.env_example import env_name
from waddlebot.runtime import SERVICES
from waddlebot.settings import SECRETS_DIR_VARIABLE, Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SETTINGS = {env_name(field) for field in Settings.model_fields}
# compose's service names are host names (no underscore): browser_source is browser-source
WADDLEBOT = ("api", "router", "twitch", "discord", "slack", "browser-source", "portal")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def test_one_container_per_service_in_the_one_image(services: dict[str, dict[str, Any]]) -> None:
    image = services["api"]["image"]
    for name in WADDLEBOT:
        service = services[name]
        assert service["command"] == ["serve", name.replace("-", "_")]
        assert name.replace("-", "_") in SERVICES
        assert service["image"] == image
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["router"]["deploy"]["replicas"] == 2


def test_containers_run_as_the_image_expects(services: dict[str, dict[str, Any]]) -> None:
    runtime = read_stages(DEPLOY / "Dockerfile")[-1]
    (user,) = runtime.arguments("USER")
    (healthcheck,) = runtime.arguments("HEALTHCHECK")
    probe = re.search(r"CMD (\[.*\])$", healthcheck)
    assert probe is not None
    for name in (*WADDLEBOT, "migrate"):
        service = services[name]
        assert service["user"] == user, name
        assert service["read_only"] is True, name
        assert service["tmpfs"] == ["/tmp"], name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert "ports" not in service, f"{name} is reached through Kong only"
    for name in WADDLEBOT:
        assert services[name]["healthcheck"]["test"] == ["CMD", *yaml.safe_load(probe.group(1))]


def test_services_start_after_the_migrations(services: dict[str, dict[str, Any]]) -> None:
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in WADDLEBOT:
        after = services[name]["depends_on"]
        assert after["migrate"] == {"condition": "service_completed_successfully"}, name
        assert after["redis"] == {"condition": "service_healthy"}, name


def _named_variables(service: dict[str, Any]) -> set[str]:
    names = {k for k in service.get("environment", {}) if k.startswith("WADDLEBOT_")}
    return names | set(service.get("secrets", []))


def test_every_variable_named_is_a_setting(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    named: set[str] = set()
    for name in (*WADDLEBOT, "migrate"):
        named |= _named_variables(services[name])
    secrets = set(compose["secrets"])
    assert not (named - SETTINGS - {SECRETS_DIR_VARIABLE}), named - SETTINGS
    # every secret setting is a file named after its variable, where the settings look
    assert named & secrets <= SETTINGS
    for name in named & secrets:
        assert compose["secrets"][name]["file"] == f"./secrets/{name}"
    for name in WADDLEBOT:
        env = services[name]["environment"]
        assert env[SECRETS_DIR_VARIABLE] == "/run/secrets"
        assert env["WADDLEBOT_REDIS_URL"] == "redis://redis:6379/0"
        assert {"WADDLEBOT_DATABASE_URL", "WADDLEBOT_SECRET_KEYS"} <= set(services[name]["secrets"])
        assert "WADDLEBOT_DATABASE_REPLICA_URLS" in services[name]["secrets"]
    # interpolated variables are the operator's, not settings: none is called WADDLEBOT_*
    text = (DEPLOY / "compose.yaml").read_text()
    assert not re.findall(r"\$\{WADDLEBOT_", text)


def test_only_kong_is_published_and_trusted(services: dict[str, dict[str, Any]]) -> None:
    published = [name for name, service in services.items() if "ports" in service]
    assert published == ["kong"]
    kong = services["kong"]
    assert kong["environment"]["KONG_DATABASE"] == "off"
    config = kong["environment"]["KONG_DECLARATIVE_CONFIG"]
    (mount,) = kong["volumes"]
    source, target, mode = mount.split(":")
    assert target == config and mode == "ro"
    assert (DEPLOY / source).resolve() == DEPLOY / "kong" / "kong.yml"
    assert (DEPLOY / "kong" / "kong.yml").is_file()
    address = kong["networks"]["default"]["ipv4_address"]
    for name in WADDLEBOT:  # X-Forwarded-For believed from Kong only
        assert services[name]["environment"]["FORWARDED_ALLOW_IPS"] == address


def test_the_database_has_a_streaming_replica_and_redis_its_aof(
    services: dict[str, dict[str, Any]],
) -> None:
    primary = " ".join(services["db"]["command"])
    assert "wal_level=replica" in primary and "max_wal_senders=" in primary
    replica = " ".join(services["db-replica"]["entrypoint"])
    assert "pg_basebackup" in replica and "--host=db" in replica
    assert "--write-recovery-conf" in replica  # standby.signal: it follows the primary
    assert services["db-replica"]["depends_on"]["db"]["condition"] == "service_healthy"
    redis = services["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"
    assert services["redis"]["volumes"] == ["redis:/data"]
