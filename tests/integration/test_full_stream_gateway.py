"""A full command stream at the gateway (issue #19): the ingest that cannot be stored gets
507 STORAGE_FULL at once, never a 2xx and never a 500; every 202 given is in the stream.

The gateway runs as its own process (`python -m mnemo.gateway`) on a fresh bus root with a
tiny MNEMO_CMD_MAX_BYTES, against the session's real NATS; it needs nothing else to
accept an ingest (the commands wait in MNEMO_CMD for an ingest service that is not run).
"""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest

from mnemo.runtime.ports import free_port

KEY = "mk_dev_" + os.urandom(12).hex()


@pytest.fixture
def small_gateway(nats_url: str, bus_root: str, tmp_path: Path) -> Iterator[httpx.Client]:
    port = free_port()
    env = {
        **os.environ,
        "MNEMO_NATS_URL": nats_url,
        "MNEMO_BUS_ROOT": bus_root,
        "MNEMO_GATEWAY_PORT": str(port),
        "MNEMO_DEV_API_KEY": KEY,
        "MNEMO_CMD_MAX_BYTES": "8192",
        "MNEMO_AUTH_FAILURE_LIMIT": "0",
    }
    log = open(tmp_path / "gateway.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnemo.gateway"], env=env, stdout=log, stderr=log
    )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "gateway.log").read_text()
            assert time.monotonic() < deadline, "the gateway did not start"
            try:
                client.get("/api/server/ping")
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(15)
        asyncio.run(_delete_streams(nats_url, bus_root))


async def _delete_streams(url: str, root: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for info in await js.streams_info():
        if root.upper() in info.config.name:
            await js.delete_stream(info.config.name)
    await nc.close()


async def _stored_commands(url: str, root: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(f"{root.upper()}_CMD")
        return int(info.state.messages)
    finally:
        await nc.close()


def test_an_ingest_the_full_stream_cannot_store_gets_507(small_gateway, nats_url, bus_root):
    accepted = 0
    item = {"userId": "u1", "content": "a memory of some length " * 4}
    for _ in range(200):
        answer = small_gateway.post("/v1/ingest", json=item)
        if answer.status_code != 202:
            break
        accepted += 1
    assert accepted > 0
    assert answer.status_code == 507, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["code"] == "STORAGE_FULL"
    assert "maximum bytes exceeded" in body["detail"]
    assert int(answer.headers["Retry-After"]) > 0
    # A batch is refused whole, and a retry too: nothing more is promised or stored.
    batch = small_gateway.post("/v1/ingest/batch", json={"items": [item, item]})
    assert batch.status_code == 507
    assert small_gateway.post("/v1/ingest", json=item).status_code == 507
    assert asyncio.run(_stored_commands(nats_url, bus_root)) == accepted


def test_the_probe_path_answers_without_a_key(small_gateway):
    """deploy/k8s probes the gateway on /api/server/ping: no key, no bus, 200."""
    answer = httpx.get(small_gateway.base_url.join("/api/server/ping"), timeout=30)
    assert answer.status_code == 200
    assert answer.json()["pong"] is True
