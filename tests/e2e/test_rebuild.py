"""Projections are disposable: drop Qdrant, rebuild from the log, and search still finds it."""

import shutil
import subprocess
import sys

from .test_thin_path import chain, search
from .waiting import eventually


def test_retrieval_index_rebuilds_from_the_log(stack, api, user_id):
    response = api.post("/v1/ingest", json={"userId": user_id, "content": "The lighthouse is red"})
    assert response.status_code == 202
    memory_id = response.json()["id"]
    eventually(lambda: search(api, user_id, "lighthouse"))

    stack.stop("retrieval")
    shutil.rmtree(stack.home / "qdrant")
    rebuilt = subprocess.run(
        [sys.executable, "-m", "mnemo.retrieval", "rebuild"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt the memory index from the log" in rebuilt.stdout
    stack.start("retrieval")
    stack.wait_healthy()

    hits = search(api, user_id, "lighthouse")
    assert [h["id"] for h in hits] == [memory_id]


def test_audit_index_rebuilds_from_the_streams(stack, api, user_id):
    correlation = "corr-" + user_id
    api.post(
        "/v1/ingest",
        json={"userId": user_id, "content": "audit me"},
        headers={"x-correlation-id": correlation},
    )
    before = eventually(lambda: (c := chain(api, correlation)) and len(c["events"]) >= 5 and c)

    stack.stop("audit")
    rebuilt = subprocess.run(
        [sys.executable, "-m", "mnemo.audit", "rebuild"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    stack.start("audit")
    stack.wait_healthy()

    after = eventually(
        lambda: (c := chain(api, correlation)) and len(c["events"]) >= len(before["events"]) and c
    )
    assert [e["message_id"] for e in after["events"]][: len(before["events"])] == [
        e["message_id"] for e in before["events"]
    ]
