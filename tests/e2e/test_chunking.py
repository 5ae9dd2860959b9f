"""Long content is split into chunks; each is searchable and points back into its memory."""

import uuid

from .test_thin_path import search
from .waiting import eventually


def test_a_long_memory_is_searchable_chunk_by_chunk_with_offsets(api, user_id):
    marker = "zq" + uuid.uuid4().hex[:8]
    paragraphs = [
        f"Paragraph {i}. " + "We walked along the quiet harbour and talked about boats. " * 12
        for i in range(6)
    ]
    paragraphs.append(f"Finally, the secret word was {marker} and nobody guessed it.")
    content = "\n\n".join(paragraphs)
    memory_id = api.post("/v1/ingest", json={"userId": user_id, "content": content}).json()["id"]

    hits = eventually(lambda: [h for h in search(api, user_id, marker) if marker in h["content"]])
    hit = hits[0]
    assert hit["id"] == memory_id
    chunk = hit["metadata"]["chunk"]
    assert chunk["of"] > 1
    assert len(hit["content"]) < len(content)
    stored = api.get(f"/v1/memories/{memory_id}").json()["content"]
    assert stored == content
    assert stored[chunk["start"] : chunk["end"]] == hit["content"]


def test_a_short_message_stays_one_chunk(api, user_id):
    api.post("/v1/ingest", json={"userId": user_id, "content": "short and sweet reminder"})
    [hit] = eventually(lambda: search(api, user_id, "sweet reminder"))
    assert hit["content"] == "short and sweet reminder"
    assert "chunk" not in hit["metadata"]


def test_recognised_metadata_is_searchable(api, user_id):
    body = {
        "userId": user_id,
        "content": "we agreed on the plan",
        "metadata": {
            "title": "Quarterly Offsite",
            "author": "Priya",
            "timestamp": "2026-06-08T10:00:00Z",
        },
        "sessionId": "s-meta",
        "agentId": "agent-meta",
        "sourceType": "meeting",
    }
    api.post("/v1/ingest", json=body)
    [hit] = eventually(lambda: search(api, user_id, "offsite"))
    metadata = hit["metadata"]
    assert metadata["title"] == "Quarterly Offsite"
    assert metadata["timestamp"] == "2026-06-08T10:00:00Z"
    assert (metadata["sessionId"], metadata["agentId"], metadata["sourceType"]) == (
        "s-meta",
        "agent-meta",
        "meeting",
    )
