"""MNEMO_NATS_URL may list a cluster's nodes, comma-separated (issue #19): a service
connects while the first one listed is down, and reconnects to another when its server
dies."""

import asyncio

from mnemo.bus import connect
from mnemo.runtime.nats_server import NatsServer
from mnemo.runtime.ports import free_port


async def test_the_first_server_down_the_next_one_listed_is_used(own_nats, tmp_path):
    dead = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    nc = await connect(f"{dead}, {own_nats.url}", name="urls-test")
    try:
        assert nc.is_connected
        assert nc.connected_url is not None and nc.connected_url.port == own_nats.port
        await nc.flush()
    finally:
        await nc.close()


async def test_a_server_dies_the_client_moves_to_another_listed(own_nats, tmp_path):
    other = NatsServer(tmp_path / "other", port=free_port())
    other.start()
    try:
        nc = await connect(f"{own_nats.url},{other.url}", name="urls-test")
    except BaseException:
        other.stop()
        raise
    try:
        # The client picks one of them at random (it spreads a service's replicas).
        assert nc.connected_url is not None
        first, second = (
            (own_nats, other)
            if nc.connected_url.port == own_nats.port
            else (
                other,
                own_nats,
            )
        )
        assert first._proc is not None
        first._proc.kill()
        first._proc.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not (nc.is_connected and nc.connected_url.port == second.port):
            assert loop.time() < deadline, "never reconnected to the other server"
            await asyncio.sleep(0.1)
        await nc.flush()
    finally:
        await nc.close()
        other.stop()
