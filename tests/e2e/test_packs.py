"""GET /v1/agents/{agentId}/packs/latest: a pack within its budget, stored and found again."""

import uuid

from .test_errors import assert_problem
from .waiting import eventually


def test_a_pack_holds_knowledge_and_memories_within_its_budget(api, user_id):
    agent = "packer-" + uuid.uuid4().hex[:6]
    lines = [
        "I work at Initech.",
        "My manager is Bill Lumbergh.",
        "I love long bike rides along the river on Sundays.",
    ] + [f"Note {i}: the quarterly report draft number {i} needs review." for i in range(30)]
    for i, line in enumerate(lines):
        sent = api.post(
            "/v1/ingest",
            json={
                "userId": user_id,
                "agentId": agent,
                "content": line,
                "sessionId": "old" if i < 20 else "now",
                "metadata": {"timestamp": f"2024-05-{1 + i // 2:02d}T10:{i % 60:02d}:00Z"},
            },
        )
        assert sent.status_code == 202
    path = f"/v1/agents/{agent}/packs/latest"

    def ready():
        r = api.get(path, params={"userId": user_id})
        body = r.json() if r.status_code == 200 else {}
        return body.get("knowledgeCount") and body["sessionMemoryCount"] == 13 and body

    pack = eventually(ready)
    assert pack["tokenCount"] <= pack["maxTokens"] == 4000
    assert any("Initech" in k["content"] for k in pack["content"]["knowledge"])
    assert "Initech" in pack["content"]["context"]
    assert pack["content"]["temporal_context"]["formatted"].startswith("Last interaction:")
    assert api.get(path, params={"userId": user_id}).json()["id"] == pack["id"]

    small = api.get(path, params={"userId": user_id, "maxTokens": 150, "query": "bike rides"})
    small = small.json()
    assert small["tokenCount"] <= 150
    assert small["sessionMemoryCount"] + small["longTermMemoryCount"] < 33
    assert small["id"] != pack["id"]

    assert_problem(api.get(path, params={"userId": user_id, "preset": "chatty"}), 400, "preset")
    assert_problem(api.get(path, params={"userId": user_id, "maxTokens": 5}), 400, "maxTokens")
    assert_problem(api.get(f"/v1/agents/nobody-{agent}/packs/latest"), 404)
