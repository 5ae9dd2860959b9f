"""A backend service answers its orchestrator's probes on MNEMO_PROBE_PORT (issue #19):
alive at once, ready once its consumers and queries run on real NATS and PostgreSQL."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mnemo.runtime.ports import free_port


def test_the_audit_service_becomes_ready_on_its_probe_port(
    nats_url: str, fresh_database: str, bus_root: str, tmp_path: Path
):
    port = free_port()
    env = {
        **os.environ,
        "MNEMO_NATS_URL": nats_url,
        "MNEMO_DATABASE_URL": fresh_database,
        "MNEMO_BUS_ROOT": bus_root,
        "MNEMO_PROBE_PORT": str(port),
    }
    log_path = tmp_path / "audit.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mnemo.audit"], env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 90
        ready = None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while ready is None or ready.status_code != 200:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, f"never ready: {ready and ready.text}"
                try:
                    ready = client.get("/readyz")
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            assert ready.json()["checks"] == {"nats": "ok", "postgres": "ok"}
            assert client.get("/livez").status_code == 200
    finally:
        proc.terminate()
        proc.wait(15)
