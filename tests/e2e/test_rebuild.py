"""Projections are disposable: drop Qdrant, rebuild from the log, and search still finds it."""

import shutil
import subprocess
import sys

from .test_thin_path import search
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
