"""A replica's own health over HTTP (MNEMO_PROBE_PORT): /livez while the loop runs,
/readyz from the replica's health report, nothing else."""

import asyncio

import httpx

from mnemo.contracts import HealthReport
from mnemo.host.probes import ProbeServer
from mnemo.runtime.ports import free_port


async def test_readiness_follows_the_report_and_liveness_does_not():
    status = "starting"

    async def report() -> HealthReport:
        return HealthReport(service="audit", status=status, checks={"nats": "ok"})

    port = free_port()
    server = ProbeServer(port, report, host="127.0.0.1")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/livez")).status_code == 200
            assert (await client.get("/readyz")).status_code == 503
            status = "ok"
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json() == {
                "service": "audit",
                "status": "ok",
                "checks": {"nats": "ok"},
                "backlog": {},
            }
            status = "degraded"
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/livez")).status_code == 200
            assert (await client.get("/metrics")).status_code == 404
    finally:
        await server.stop()


async def test_a_client_that_sends_nothing_does_not_hold_the_server():
    async def report() -> HealthReport:
        return HealthReport(service="audit", status="ok", checks={})

    port = free_port()
    server = ProbeServer(port, report, host="127.0.0.1")
    await server.start()
    try:
        _, idle = await asyncio.open_connection("127.0.0.1", port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/livez")).status_code == 200
        idle.close()
    finally:
        await server.stop()
