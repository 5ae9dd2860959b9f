"""PostgreSQL down for longer than any retry budget loses nothing that was acknowledged
(issue #13): the consumers pause while it is away and resume when it is back.

The stack here has its own PostgreSQL (the session's is shared by every other test), which
the test kills with SIGKILL, leaves down well past what five deliveries with back-off used
to last, and starts again on the same data and port.
"""

import time
import uuid

import psutil

from mnemo.runtime.postgres_server import PostgresServer

from .conftest import _create_database
from .stack import Stack, free_port
from .waiting import eventually

# Five deliveries with 0.5-4 s back-off took about 8 s: the outage is three times that.
OUTAGE_SECONDS = 25.0


def kill_postgres(server: PostgresServer) -> None:
    """A crash: the postmaster and every backend at once."""
    pid = int((server.data_dir / "postmaster.pid").read_text().splitlines()[0])
    postmaster = psutil.Process(pid)
    processes = [postmaster, *postmaster.children(recursive=True)]
    for process in processes:
        process.kill()
    psutil.wait_procs(processes, timeout=15)


def test_postgres_down_for_long_loses_no_acknowledged_memory(own_postgres, nats_url, tmp_path):
    dsn = own_postgres.create_database("outage")
    root = "out" + uuid.uuid4().hex[:8]
    stack = Stack(
        nats_url=nats_url, database_url=dsn, home=tmp_path / "stack", bus_root=root,
        port=free_port(),
    )  # fmt: skip
    stack.start()
    try:
        stack.wait_healthy()
        user = "outage-" + uuid.uuid4().hex[:6]
        with stack.client() as api:

            def ingest(n: int) -> str:
                body = {"userId": user, "content": f"note {n} about kiwis", "sourceId": f"n:{n}"}
                response = api.post("/v1/ingest", json=body)
                assert response.status_code == 202, response.text
                return response.json()["id"]

            ids = {ingest(n) for n in range(10)}
            kill_postgres(own_postgres)
            ids |= {ingest(n) for n in range(10, 30)}  # JetStream still accepts them
            time.sleep(OUTAGE_SECONDS)  # the fault itself, not a wait on the pipeline
            own_postgres.start()

            def listed() -> set[str]:
                response = api.get("/v1/memories", params={"userId": user, "limit": 100})
                if response.status_code != 200:
                    return set()
                found = [m["id"] for m in response.json()["memories"]]
                assert len(found) == len(set(found)), "a memory was stored twice"
                return set(found) if set(found) == ids else set()

            assert eventually(listed, timeout=180, every=1.0) == ids
            total = api.get("/v1/memories", params={"userId": user, "limit": 100}).json()["total"]
            assert total == 30

            def searchable() -> bool:
                hits = api.get("/v1/search", params={"userId": user, "q": "note 29 kiwis"})
                return hits.status_code == 200 and any(
                    h["id"] in ids for h in hits.json()["results"]
                )

            eventually(searchable, timeout=120, every=1.0)
            health = eventually(
                lambda: (r := api.get("/v1/health")).status_code == 200 and r.json(), timeout=60
            )
            assert health["deadLetters"]["total"] == 0
    finally:
        stack.stop()


def test_while_nats_is_down_the_gateway_says_503_and_means_it(own_nats, database_url, tmp_path):
    """503 with Retry-After, health naming NATS, and a 503'd ingest is not stored later;
    its retry with the same Idempotency-Key is stored once."""
    name = "natsout" + uuid.uuid4().hex[:8]
    stack = Stack(
        nats_url=own_nats.url, database_url=_create_database(database_url, name),
        home=tmp_path / "stack", bus_root=name, port=free_port(),
    )  # fmt: skip
    stack.start()
    try:
        stack.wait_healthy()
        user = "natsout-" + uuid.uuid4().hex[:6]
        with stack.client() as api:
            assert (
                api.post("/v1/ingest", json={"userId": user, "content": "before"}).status_code
                == 202
            )
            assert own_nats._proc is not None
            own_nats._proc.kill()
            own_nats._proc.wait()

            during = {"userId": user, "content": "during the outage"}
            refused = api.post("/v1/ingest", json=during, headers={"Idempotency-Key": "k-1"})
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"]
            assert refused.headers["content-type"].startswith("application/problem+json")
            searched = api.get("/v1/search", params={"userId": user, "q": "outage"})
            assert searched.status_code == 503 and searched.headers["retry-after"]
            health = api.get("/v1/health")
            assert health.status_code == 503
            assert health.json()["services"]["gateway"]["checks"]["nats"].startswith("down")

            own_nats.start()
            stack.wait_healthy()
            after = api.post("/v1/ingest", json={"userId": user, "content": "after"})
            assert after.status_code == 202

            def contents() -> list[str]:
                response = api.get("/v1/memories", params={"userId": user})
                return sorted(m["content"] for m in response.json()["memories"])

            assert eventually(lambda: len(contents()) == 2 and contents(), timeout=120) == [
                "after",
                "before",
            ]
            # The client retries what was refused, with its key: stored once.
            for _ in range(2):
                retried = api.post("/v1/ingest", json=during, headers={"Idempotency-Key": "k-1"})
                assert retried.status_code == 202
            eventually(lambda: len(contents()) == 3, timeout=120)
            assert contents() == ["after", "before", "during the outage"]
    finally:
        stack.stop()
