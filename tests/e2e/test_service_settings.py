"""Each service starts with one command and stops at once, naming a bad setting."""

import os
import subprocess
import sys

import pytest


def start(service: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    return subprocess.run(
        [sys.executable, "-m", f"mnemo.{service}"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("service", ["ingest", "synthesis", "retrieval", "audit"])
def test_a_missing_database_url_is_named(service):
    result = start(service, MNEMO_NATS_URL="nats://127.0.0.1:1")
    assert result.returncode != 0
    assert "MNEMO_DATABASE_URL is required" in result.stderr


def test_a_malformed_gateway_port_is_named():
    result = start("gateway", MNEMO_NATS_URL="nats://127.0.0.1:1", MNEMO_GATEWAY_PORT="eighty")
    assert result.returncode != 0
    assert "MNEMO_GATEWAY_PORT is malformed" in result.stderr


def test_a_missing_nats_url_is_named():
    result = start("gateway")
    assert result.returncode != 0
    assert "MNEMO_NATS_URL is required" in result.stderr
