"""An answer that echoes what it was sent echoes the redacted form, on every surface: a
question, a search query, a dedupe key, the messages of a conversation to compress. With
an Idempotency-Key such an answer is kept (NATS KV) and replayed as it was first sent:
the secret is kept nowhere."""

import uuid

import httpx

from ..disk import found_in_files
from .test_accounts import as_key, sign_up
from .test_redaction import fake_github_token

PLACEHOLDER = "[REDACTED:github_token]"


def _kept(client: httpx.Client, path: str, body: dict, status: int = 200) -> httpx.Response:
    """POSTed twice with one Idempotency-Key: the replay (the answer kept in NATS KV) is
    the first answer."""
    headers = {"Idempotency-Key": "echo-" + uuid.uuid4().hex}
    first = client.post(path, json=body, headers=headers)
    assert first.status_code == status, first.text
    again = client.post(path, json=body, headers=headers)
    assert again.headers.get("idempotent-replayed") == "true", again.headers
    assert again.status_code == status and again.content == first.content
    return first


def test_answers_echo_what_they_were_sent_redacted(stack, tmp_path_factory):
    token = fake_github_token()
    answers: dict[str, httpx.Response] = {}
    user = "echo-" + uuid.uuid4().hex[:8]
    # A tenant of its own: a forget (another test's, in the shared development tenant)
    # erases every kept answer of its tenant, which could take a replay away mid-test.
    with stack.client() as dev:
        master = sign_up(dev, "echo-" + uuid.uuid4().hex[:6]).master
    with as_key(stack, master) as api:
        question = {"userId": user, "question": f"Is {token} mine?"}
        answers["native answer"] = _kept(api, "/v1/answer", question)

        anima = api.post("/api/animas", json={"name": "echo"})
        assert anima.status_code == 201, anima.text
        event = {
            "anima_id": anima.json()["id"],
            "event_type": "message.in",
            "content": "hello",
            "dedupe_key": token,
        }
        answers["elephantasm event"] = _kept(api, "/api/events", event, 201)

        agent = api.post("/v1/agents", json={"name": "eliza-echo"})
        assert agent.status_code == 201, agent.text
        answers["elizaos search"] = api.get(
            f"/api/memory/agents/{agent.json()['id']}/memories/search",
            params={"q": f"where is {token}"},
        )

    memanto = "echo-" + uuid.uuid4().hex[:6]
    with httpx.Client(
        base_url=f"{stack.base_url}/api/v2",
        headers={"Authorization": f"Bearer {master}"},
        timeout=30,
    ) as v2:
        assert v2.post("/agents", json={"agent_id": memanto}).status_code == 201
        activated = v2.post(f"/agents/{memanto}/activate")
        assert activated.status_code == 200, activated.text
        v2.headers["X-Session-Token"] = activated.json()["session_token"]
        asked = {"question": f"Is {token} mine?"}
        answers["memanto answer"] = _kept(v2, f"/agents/{memanto}/answer", asked)
        conversation = {
            "messages": [
                {"role": "user", "content": f"My token is {token}. I live in Paris."},
                {"role": "assistant", "content": "Noted."},
            ]
        }
        compressed = _kept(v2, f"/agents/{memanto}/context/compress", conversation)
        answers["memanto compress"] = compressed
        recalled = v2.get(f"/agents/{memanto}/recall", params={"query": f"is {token} here"})
        answers["memanto recall"] = recalled

    for name, answer in answers.items():
        assert answer.status_code < 300, (name, answer.text)
    assert [name for name, answer in answers.items() if token in answer.text] == []
    assert all(PLACEHOLDER in answer.text for answer in answers.values())

    # Nothing of the stack (NATS' KV and streams, PostgreSQL, logs) holds it.
    assert list(found_in_files(tmp_path_factory.getbasetemp(), [token.encode()])) == []
