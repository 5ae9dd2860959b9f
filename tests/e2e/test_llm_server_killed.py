"""The real model server killed while synthesis's second phase reads a batch of memories:
nothing is lost. Each memory keeps the rules' facts it got at once, is searchable, and is
read by the model once the server is back (the call in flight is retried across the
restart, the memories queued behind it wait); the backlog drains to 0.

Marked `llm` (`make test-llm`): it runs llama-server on the real 1.1 GB model. The server is
restarted here as the supervisor of `mnemo run` restarts it (tests/integration/
test_llm_server.py::test_a_killed_server_is_restarted_on_its_port)."""

import os
import signal
import uuid

import httpx
import pytest

from mnemo.runtime.llm_model import QWEN_CODER_1_5B, assemble
from mnemo.runtime.llm_server import LlmServer
from mnemo.runtime.supervisor import LOCAL_LLM_DEFAULTS

from .waiting import eventually

pytestmark = [pytest.mark.llm, pytest.mark.timeout(1800)]

# The model reads a memory in 10-60 s on a loaded 2-core machine; generous deadlines.
READ_DEADLINE = 900.0
SAID = [
    "I moved to Lisbon last year and I love it here.",
    "I work as a nurse at the city hospital.",
    "My dog Rex is three years old.",
]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    home = tmp_path_factory.mktemp("llm-killed")
    key = "sk-test-" + uuid.uuid4().hex
    (home / "key").write_text(key)
    server = LlmServer(
        assemble(QWEN_CODER_1_5B, home / "models"),
        QWEN_CODER_1_5B.name,
        api_key_file=home / "key",
        log_path=home / "llm.log",
        pid_file=home / "llm.pid",
    )
    server.start()
    try:
        yield server, key
    finally:
        server.stop()


@pytest.fixture(scope="module")
def synthesis_on_the_model(stack, model):
    """Synthesis reading every memory with the real model, with the settings `mnemo run`
    gives it with MNEMO_LLM=local (one call at a time, retries enough to outlast a
    restart), but a longer wait for one answer (the machine may be far busier here)."""
    server, key = model
    stack.stop("synthesis")
    settings = {k: v for k, v in LOCAL_LLM_DEFAULTS.items() if k.startswith("MNEMO_LLM_")}
    settings.update(
        MNEMO_LLM_URL=server.url,
        MNEMO_LLM_MODEL=QWEN_CODER_1_5B.name,
        MNEMO_LLM_API_KEY=key,
        MNEMO_LLM_TIMEOUT="600",
        MNEMO_LLM_TENANT_BUDGET="0",
    )
    stack.start("synthesis", **settings)
    stack.wait_healthy()
    try:
        yield
    finally:
        stack.stop("synthesis")
        stack.start("synthesis")
        stack.wait_healthy()


def events_of(api, correlation_id: str, type_: str) -> list[dict]:
    response = api.get("/v1/audit/events", params={"correlation_id": correlation_id})
    return [e["data"]["data"] for e in response.json()["events"] if e["type"] == type_]


def busy(server: LlmServer, key: str) -> bool:
    """Whether the server is generating (llama-server's /slots)."""
    response = httpx.get(
        f"http://{server.host}:{server.port}/slots",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    return response.status_code == 200 and any(s.get("is_processing") for s in response.json())


def backlog(stack) -> int | None:
    response = httpx.get(f"{stack.base_url}/v1/health", timeout=10)
    return response.json()["services"]["synthesis"].get("backlog", {}).get("llm")


def test_a_server_killed_mid_batch_loses_no_memory(
    stack, model, synthesis_on_the_model, api, user_id
):
    server, key = model
    correlations = []
    for content in SAID:
        response = api.post("/v1/ingest", json={"userId": user_id, "content": content})
        assert response.status_code == 202, response.text
        correlations.append(response.headers["x-correlation-id"])
    # The first phase does not wait for the model: every memory has the rules' reading.
    for correlation in correlations:
        [first] = eventually(lambda c=correlation: events_of(api, c, "memory.synthesized"))
        assert first["extractor"] == "rules-v2"

    # Killed while it reads the first of them, the others queued behind it.
    eventually(lambda: busy(server, key), timeout=READ_DEADLINE)
    assert (backlog(stack) or 0) >= 1
    killed = server._proc.pid
    os.kill(killed, signal.SIGKILL)
    server._proc.wait(10)
    server.start()
    assert server._proc.pid != killed

    for correlation in correlations:
        [done] = eventually(
            lambda c=correlation: events_of(api, c, "memory.refined"), timeout=READ_DEADLINE
        )
        assert done["extractor"] == f"llm:{QWEN_CODER_1_5B.name}"
        # Read by the model after the restart: given up on as unavailable it would only
        # keep the rules' facts. (The small model's answer may still be refused: invalid.)
        reason = done["fallback_reason"] or ""
        assert not reason.startswith("unavailable"), done
    assert eventually(lambda: backlog(stack) == 0)

    # Every memory is kept and searchable, and the facts read from it are there.
    listed = api.get("/v1/memories", params={"userId": user_id, "limit": 10}).json()
    assert listed["total"] == len(SAID)
    facts = api.get("/v1/facts", params={"userId": user_id}).json()["facts"]
    said = " ".join(f["statement"].lower() for f in facts)
    assert "lisbon" in said and "nurse" in said, said
    found = api.post(
        "/v1/search", json={"userId": user_id, "query": "Rex", "mode": "keyword"}
    ).json()["results"]
    assert found
