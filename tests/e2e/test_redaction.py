"""Secrets never get past the gateway: not stored, indexed, logged, published or audited."""

import random
import string
import uuid

from .test_memories_api import memories
from .test_thin_path import chain, search
from .waiting import eventually


def fake_aws_key() -> str:
    rng = random.Random(uuid.uuid4().int)
    return "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def fake_github_token() -> str:
    rng = random.Random(uuid.uuid4().int)
    return "ghp_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(36))


def test_secrets_are_replaced_by_typed_placeholders_everywhere(stack, api, user_id):
    aws, github = fake_aws_key(), fake_github_token()
    correlation = "corr-" + uuid.uuid4().hex
    body = {
        "userId": user_id,
        "content": f"deploy notes: use key {aws} for the bucket backup",
        "metadata": {"title": "ops", "note": f"token {github}"},
    }
    response = api.post("/v1/ingest", json=body, headers={"x-correlation-id": correlation})
    assert response.status_code == 202

    page = eventually(lambda: (p := memories(api, user_id))["total"] == 1 and p)
    [memory] = page["memories"]
    assert aws not in memory["content"]
    assert "[REDACTED:aws_access_key]" in memory["content"]
    assert memory["metadata"]["note"] == "token [REDACTED:github_token]"
    [hit] = eventually(lambda: search(api, user_id, "bucket backup"))
    assert aws not in hit["content"]

    def recorded():
        events = chain(api, correlation)["events"]
        return next((e for e in events if e["type"] == "memory.recorded"), None)

    event = eventually(recorded)
    assert event["data"]["data"]["redactions"] == {"aws_access_key": 1, "github_token": 1}

    logs = "".join(p.read_text(errors="replace") for p in (stack.home / "logs").glob("*.log"))
    assert aws not in logs and github not in logs
