"""From nothing, `MNEMO_LLM=local mnemo run` (what `MNEMO_LLM=local make run` starts once the
llm extra is installed): NATS, PostgreSQL and the model server started by the run itself,
the model joined from its wheels and served offline, a memory read by the model in the
background after the rules' reading, the model's facts listed, and `POST /v1/answer`
answered by the model from them.

Marked `llm` (`make test-llm`): it runs llama-server on the real 1.1 GB model."""

import uuid

import httpx
import pytest

from mnemo.runtime.llm_model import QWEN_CODER_1_5B
from mnemo.runtime.ports import free_port

from .test_make_run import Run
from .waiting import eventually

pytestmark = [pytest.mark.llm, pytest.mark.timeout(2400)]

# Joining the model (1.1 GB) and loading it, then reading one memory, on a loaded 2-core
# machine: generous deadlines.
START_DEADLINE = 900.0
READ_DEADLINE = 900.0
MODEL = f"llm:{QWEN_CODER_1_5B.name}"


def test_a_run_with_the_local_model_reads_a_memory_and_answers_from_it(tmp_path):
    port = free_port()
    run = Run(tmp_path, port, MNEMO_LLM="local")
    try:
        banner = run.wait_ready(timeout=START_DEADLINE)
        assert f"LLM:      {QWEN_CODER_1_5B.name}" in banner
        # Offline: the model was joined into the run's home from the installed wheels.
        assert (tmp_path / ".mnemo" / "models" / f"{QWEN_CODER_1_5B.name}.gguf").stat().st_size > 0
        key = (tmp_path / ".mnemo" / "dev_api_key").read_text().strip()
        base = f"http://127.0.0.1:{port}"
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=300)

        def llm_check() -> str | None:
            health = httpx.get(f"{base}/v1/health", timeout=30).json()
            return health["services"]["synthesis"]["checks"].get("llm")

        assert eventually(lambda: llm_check() == "ok", timeout=START_DEADLINE)

        user_id = "nurse-" + uuid.uuid4().hex[:8]
        response = api.post(
            "/v1/ingest",
            json={"userId": user_id, "content": "I work as a nurse at the city hospital."},
        )
        assert response.status_code == 202, response.text
        correlation = response.headers["x-correlation-id"]

        def events(type_: str) -> list[dict]:
            answer = api.get("/v1/audit/events", params={"correlation_id": correlation})
            return [e["data"]["data"] for e in answer.json()["events"] if e["type"] == type_]

        # The rules answer at once; the model reads the memory later, in the background.
        [first] = eventually(lambda: events("memory.synthesized"))
        assert first["extractor"] == "rules-v2"
        [refined] = eventually(lambda: events("memory.refined"), timeout=READ_DEADLINE)
        assert refined["extractor"] == MODEL and refined["fallback_reason"] is None, refined
        # Its facts: new ones, or the rules' own that it corroborated (stated alike).
        read = set(refined["fact_ids"]) | set(refined["corroborated_fact_ids"])
        assert read, refined
        facts = api.get("/v1/facts", params={"userId": user_id}).json()["facts"]
        by_model = [f for f in facts if f["id"] in read]
        assert any("nurse" in f["statement"].lower() for f in by_model), (refined, facts)

        answered = api.post(
            "/v1/answer", json={"userId": user_id, "question": "What do I do for a living?"}
        )
        assert answered.status_code == 200, answered.text
        body = answered.json()
        assert body["method"] == MODEL, body
        assert "nurse" in body["answer"].lower(), body
        assert any("nurse" in f["statement"].lower() for f in body["facts"]), body
    finally:
        assert run.stop() == 0, "".join(run.lines[-40:])
