"""deploy/k8s (issue #19): every manifest valid against Kubernetes' own schemas, offline,
and what matters for running Mnemo there holds in every overlay."""

import re
import socket
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from mnemo.audit.settings import AuditSettings
from mnemo.gateway.settings import GatewaySettings
from mnemo.ingest.settings import IngestSettings
from mnemo.retrieval.settings import RetrievalSettings
from mnemo.settings import env_name, load_settings
from mnemo.synthesis.settings import SynthesisSettings

from .kustomize import containers, find, load, render

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "production")
# The oldest Kubernetes the manifests claim (autoscaling/v2, policy/v1) and the newest
# schemas shipped with kubernetes-validate.
VERSIONS = ("1.27", kubernetes_validate.utils.latest_version())
SETTINGS = {
    "gateway": GatewaySettings,
    "ingest": IngestSettings,
    "synthesis": SynthesisSettings,
    "retrieval": RetrievalSettings,
    "audit": AuditSettings,
}
SETTING_NAMES = {env_name(name) for cls in SETTINGS.values() for name in cls.__struct_fields__}
# Secrets the deployment reads but does not make: CloudNativePG's and the Qdrant chart's.
MADE_ELSEWHERE = {"mnemo-pg-app": {"uri"}, "qdrant-apikey": {"api-key"}}


@pytest.fixture(scope="module", params=("base", *OVERLAYS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    folder = K8S / "base" if request.param == "base" else K8S / "overlays" / request.param
    return request.param, render(folder)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the network fails the test: the schemas ship in the wheel."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the validation tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def deployments(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == "Deployment"}


def test_every_resource_is_valid_for_kubernetes(rendered, offline) -> None:
    _, resources = rendered
    for resource in resources:
        for version in VERSIONS:
            kubernetes_validate.validate(resource, version, strict=True)


def test_every_patch_file_is_valid_once_applied_and_names_a_real_resource() -> None:
    """A patch whose kind or name matches nothing would be silently ignored by kustomize
    in some versions; the renderer refuses it (LookupError), so render every overlay."""
    for overlay in OVERLAYS:
        assert render(K8S / "overlays" / overlay)


def test_every_compose_service_has_a_deployment_running_its_module(rendered) -> None:
    _, resources = rendered
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    commands = {name: service.get("command") or [] for name, service in compose["services"].items()}
    modules = {
        name: command[-1]
        for name, command in commands.items()
        if command and str(command[-1]).startswith("mnemo.")
    }
    assert set(modules) == set(SETTINGS)
    found = deployments(resources)
    for name, module in modules.items():
        (container,) = found[f"mnemo-{name}"]["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", module]


def test_every_deployment_has_probes_on_its_own_ports_and_resources(rendered) -> None:
    _, resources = rendered
    for name, deployment in deployments(resources).items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                check = container[probe]["httpGet"]
                assert check["port"] in ports, f"{name} {probe} on an undeclared port"
            assert container["readinessProbe"]["httpGet"]["path"] in ("/readyz", "/api/server/ping")
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), (name, kind)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_backend_probes_are_served_on_the_configured_probe_port(rendered) -> None:
    _, resources = rendered
    config = find(resources, "ConfigMap", "mnemo-config")["data"]
    for name, deployment in deployments(resources).items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        if name != "mnemo-gateway":
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            assert ports["probes"] == int(config["MNEMO_PROBE_PORT"])
        else:
            assert container["ports"][0]["containerPort"] == int(config["MNEMO_GATEWAY_PORT"])


def test_every_deployment_has_a_disruption_budget(rendered) -> None:
    _, resources = rendered
    budgets = [r for r in resources if r["kind"] == "PodDisruptionBudget"]
    for name, deployment in deployments(resources).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(matching) == 1, name
        assert matching[0]["spec"]["maxUnavailable"] == 1


def test_the_gateway_hpa_scales_the_gateway_deployment(rendered) -> None:
    _, resources = rendered
    (hpa,) = [r for r in resources if r["kind"] == "HorizontalPodAutoscaler"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "mnemo-gateway")
    assert target["name"] in deployments(resources)
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_every_variable_is_a_real_setting_and_every_secret_is_known(rendered) -> None:
    overlay, resources = rendered
    config = find(resources, "ConfigMap", "mnemo-config")["data"]
    assert set(config) <= SETTING_NAMES, set(config) - SETTING_NAMES
    secrets = {
        r["metadata"]["name"]: set(r.get("stringData", {})) | set(r.get("data", {}))
        for r in resources
        if r["kind"] == "Secret"
    }
    # The dev overlay carries its development keys; elsewhere the operator makes mnemo-keys.
    assert ("mnemo-keys" in secrets) == (overlay == "dev")
    for container in containers(resources):
        for item in container.get("env", []):
            assert item["name"] in SETTING_NAMES, item["name"]
            ref = item["valueFrom"]["secretKeyRef"]
            if ref["name"] in MADE_ELSEWHERE:
                assert ref["key"] in MADE_ELSEWHERE[ref["name"]], ref
                continue
            assert (ref["name"], ref["key"]) == ("mnemo-keys", item["name"]), ref
            if "mnemo-keys" in secrets and not ref.get("optional"):
                assert ref["key"] in secrets["mnemo-keys"], ref
    for key in secrets.get("mnemo-keys", set()):
        assert key in SETTING_NAMES, key


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_starts_with_what_the_overlay_gives_it(overlay: str) -> None:
    """The ConfigMap and the secrets, as each service's settings read them: a value the
    service would refuse at start (a stream age under the duplicate window, a bad
    discard policy) fails here."""
    resources = render(K8S / "overlays" / overlay)
    config = find(resources, "ConfigMap", "mnemo-config")["data"]
    secrets = {
        "MNEMO_DATABASE_URL": "postgresql://mnemo:x@mnemo-pg-rw:5432/mnemo",
        "MNEMO_KEY_SECRET": "a-secret-of-enough-length",
    }
    for name, cls in SETTINGS.items():
        settings = load_settings(cls, {**config, **secrets})
        assert settings.stream_replicas == (1 if overlay == "dev" else 3), name


def test_production_streams_fit_in_the_nats_file_store() -> None:
    """With three replicas on three nodes every node holds every stream: their caps must
    fit under JetStream's max file store, so a full stream refuses its own writes (507)
    before the server's store is full for the KV buckets and every other stream."""
    config = find(render(K8S / "overlays" / "production"), "ConfigMap", "mnemo-config")["data"]
    values = yaml.safe_load((K8S / "nats" / "values.yaml").read_text(encoding="utf-8"))
    jetstream = values["config"]["jetstream"]
    caps = sum(int(config[f"MNEMO_{kind}_MAX_BYTES"]) for kind in ("CMD", "EVT", "OPS", "DLQ"))
    assert (
        caps
        < _bytes(jetstream["fileStore"]["maxSize"])
        <= _bytes(jetstream["fileStore"]["pvc"]["size"])
    )
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert jetstream["enabled"] is True
    # Every write flushed before it is acknowledged (the chart's `merge` goes into the
    # server's jetstream block): a 202 survives the loss of the nodes' page caches.
    assert jetstream["merge"]["sync_interval"] == "always"
    assert config["MNEMO_STREAM_REPLICAS"] == "3"
    # Commands carry the whole body: the server must take MNEMO_MAX_BODY_BYTES and more.
    max_payload = re.fullmatch(r"<< (\d+)MB >>", values["config"]["merge"]["max_payload"])
    assert max_payload is not None
    max_body = GatewaySettings(nats_url="nats://nats:4222").max_body_bytes
    assert int(max_payload.group(1)) * 1024 * 1024 > max_body


def test_postgres_and_qdrant_make_the_secrets_the_services_read() -> None:
    """CloudNativePG names its app Secret <cluster>-app; Qdrant's chart <release>-apikey.
    Their CRD and chart are not in kubernetes-validate's schemas: checked by shape here."""
    (cluster,) = load(K8S / "postgres" / "cluster.yaml")
    assert (cluster["apiVersion"], cluster["kind"]) == ("postgresql.cnpg.io/v1", "Cluster")
    assert f"{cluster['metadata']['name']}-app" in MADE_ELSEWHERE
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["bootstrap"]["initdb"] == {"database": "mnemo", "owner": "mnemo"}
    qdrant = yaml.safe_load((K8S / "qdrant" / "values.yaml").read_text(encoding="utf-8"))
    assert qdrant["apiKey"] is True
    assert qdrant["replicaCount"] == 3
    assert qdrant["config"]["cluster"]["enabled"] is True
    assert "qdrant-apikey" in MADE_ELSEWHERE  # release `qdrant` + "-apikey"


def _bytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Gi|Mi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024**3 if unit == "Gi" else 1024**2)
