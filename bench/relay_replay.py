"""The relay alone: its CPU per event when it has a backlog, in a process of its own.

The relay exists once (one leader) however many ingest replicas run, so its cost per event
bounds the whole deployment. In a stack its work is mixed with ingest's command handling;
here it is measured apart: a `Relay` with a checkpoint of its own publishes the stack's
whole log, from the start, in batches as in production (MNEMO_RELAY_BATCH, 500), to a
topology of its own (`relaybench.*`: streams no Mnemo service reads), and this process's
CPU time (every thread: the relay, the NATS client's reader, asyncpg) over the replay is
printed as JSON. A backlog is when the relay's cost matters: at its limit it always has
one. bench/capacity.py runs it last on its stack (it adds a stream the stores' figures
would otherwise count).

Usage: python bench/relay_replay.py DATABASE_URL NATS_URL [--batch 500]
"""

import argparse
import asyncio
import json
import time

from mnemo.bus import Publisher, connect, ensure_streams
from mnemo.contracts import Topology
from mnemo.eventlog import Relay
from mnemo.eventlog import connect as connect_log

NAME = "relaybench"


async def replay(dsn: str, nats_url: str, batch: int) -> dict[str, float]:
    pool = await connect_log(dsn)
    nc = await connect(nats_url, f"{NAME}-relay")
    try:
        topology = Topology(root=NAME)
        await ensure_streams(nc.jetstream(), topology)
        relay = Relay(pool, Publisher(nc, topology, NAME), name=NAME, batch_size=batch)
        in_log = await pool.fetchval("SELECT count(*) FROM mnemo.events")
        cpu, wall = time.process_time(), time.perf_counter()
        events = await relay.pump()
        return {
            "events": events,
            "in_log": in_log,
            "cpu_s": time.process_time() - cpu,
            "wall_s": time.perf_counter() - wall,
            "batch": batch,
        }
    finally:
        await nc.close()
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("database_url")
    parser.add_argument("nats_url")
    parser.add_argument("--batch", type=int, default=500, help="events per round trip")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(replay(args.database_url, args.nats_url, args.batch))))


if __name__ == "__main__":
    main()
