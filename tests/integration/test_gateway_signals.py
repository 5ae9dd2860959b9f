"""A gateway started while NATS is away still stops on SIGTERM (uvicorn looks at a signal
only after startup, which waits for NATS: mnemo.gateway.bootstrap.Server cancels it)."""

import os
import signal
import subprocess
import sys
import time

import httpx

from tests.e2e.stack import free_port


def test_a_gateway_waiting_for_nats_stops_on_sigterm(tmp_path):
    port, dead = free_port(), free_port()  # nothing listens on `dead`
    env = {
        **os.environ,
        "MNEMO_NATS_URL": f"nats://127.0.0.1:{dead}",
        "MNEMO_GATEWAY_PORT": str(port),
        "MNEMO_KEY_SECRET": "a-secret-for-this-test-only-0123456789",
        "MNEMO_BUS_ROOT": "signals",
    }
    log = (tmp_path / "gateway.log").open("wb")
    gateway = subprocess.Popen(
        [sys.executable, "-m", "mnemo.gateway"], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while b"nats" not in (tmp_path / "gateway.log").read_bytes().lower():
            assert time.monotonic() < deadline, "the gateway never tried NATS"
            assert gateway.poll() is None
            time.sleep(0.2)
        try:  # still starting: it answers nothing
            httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)
            raise AssertionError("a gateway without NATS served a request")
        except httpx.TransportError:
            pass
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(timeout=60) is not None
    finally:
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait()
