"""MEMANTO's API v2 refuses what it cannot take, in its envelope and naming the field: no
5xx for a huge number, no coercion of a value of the wrong kind, no agent registered by a
refused activate; and a large conversation is compressed without holding up the gateway."""

import uuid

import httpx
import pytest

HUGE = int("1" + "0" * 400)  # a JSON integer float() cannot take (OverflowError)
MESSAGES = [{"role": "user", "content": "I live in Lisbon."}]


@pytest.fixture
def v2(stack):
    with httpx.Client(
        base_url=f"{stack.base_url}/api/v2",
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=60,
    ) as client:
        yield client


@pytest.fixture
def agent(v2) -> str:
    agent_id = "inputs-" + uuid.uuid4().hex[:8]
    assert v2.post("/agents", json={"agent_id": agent_id}).status_code == 201
    return agent_id


@pytest.fixture
def token(v2, agent) -> dict[str, str]:
    opened = v2.post(f"/agents/{agent}/activate")
    assert opened.status_code == 200, opened.text
    return {"X-Session-Token": opened.json()["session_token"]}


def refused(response: httpx.Response, field: str) -> None:
    """A 422 in MEMANTO's envelope whose message names `field`."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["status"] == "error" and body["error"]["code"] == "VALIDATION_ERROR"
    assert field in body["error"]["message"], body


# (path, body with the value as "V", the field named): every number MEMANTO reads.
NUMBERS = [
    ("/agents/{a}/remember", {"content": "x", "confidence": "V"}, "confidence"),
    (
        "/agents/{a}/batch-remember",
        {"memories": [{"content": "x", "confidence": "V"}]},
        "memories[0].confidence",
    ),
    ("/agents/{a}/activate", {"duration_hours": "V"}, "duration_hours"),
    ("/agents/{a}/extend", {"hours": "V"}, "hours"),
    ("/session/extend", {"hours": "V"}, "hours"),
    ("/session/extend", {"additional_hours": "V"}, "additional_hours"),
    ("/agents/{a}/answer", {"question": "Where?", "limit": "V"}, "limit"),
    ("/agents/{a}/context/summarize", {"max_tokens": "V"}, "max_tokens"),
    ("/context/summarize", {"max_tokens": "V"}, "max_tokens"),
    ("/context/summarize/custom", {"memory_ids": ["m"], "max_tokens": "V"}, "max_tokens"),
    ("/agents/{a}/context/compress", {"messages": MESSAGES, "max_tokens": "V"}, "max_tokens"),
    ("/context/compress", {"messages": MESSAGES, "max_tokens": "V"}, "max_tokens"),
    ("/context/compress", {"max_tokens": "V"}, "max_tokens"),
    ("/context/compress", {"days_to_compress": "V"}, "days_to_compress"),
    ("/context/compress", {"keep_recent_count": "V"}, "keep_recent_count"),
]


def _with(value: object, template: object) -> object:
    if template == "V":
        return value
    if isinstance(template, dict):
        return {k: _with(value, v) for k, v in template.items()}
    if isinstance(template, list):
        return [_with(value, v) for v in template]
    return template


@pytest.mark.parametrize("value", [HUGE, -HUGE, 1e19, -1e18, True], ids=str)
def test_a_number_it_cannot_take_is_a_422_naming_the_field(v2, agent, token, value):
    for path, template, field in NUMBERS:
        sent = v2.post(path.format(a=agent), json=_with(value, template), headers=token)
        refused(sent, field)


@pytest.mark.parametrize("hours", ["abc", HUGE, 1e19, True, None, 0])
def test_a_refused_activate_registers_no_agent(v2, hours):
    agent_id = "never-" + uuid.uuid4().hex[:8]
    refused(v2.post(f"/agents/{agent_id}/activate", json={"duration_hours": hours}), "duration")
    missing = v2.get(f"/agents/{agent_id}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "INVALID_AGENT_ID"
    # The same activate, valid, registers it (the seed's Quick Start).
    assert v2.post(f"/agents/{agent_id}/activate", json={"duration_hours": 1}).status_code == 200
    assert v2.get(f"/agents/{agent_id}").status_code == 200


# (path, body, the field named): values of the wrong kind, once dropped or coerced.
WRONG_KIND = [
    ("/agents/{a}/remember", {"content": "x", "tags": 0}, "tags"),
    ("/agents/{a}/remember", {"content": "x", "tags": ""}, "tags"),
    ("/agents/{a}/remember", {"content": "x", "metadata": ""}, "metadata"),
    ("/agents/{a}/remember", {"content": "x", "metadata": 0}, "metadata"),
    ("/agents/{a}/remember", {"content": "x", "confidence": True}, "confidence"),
    (
        "/agents/{a}/batch-remember",
        {"memories": [{"content": "x", "tags": ""}]},
        "memories[0].tags",
    ),
    (
        "/agents/{a}/batch-remember",
        {"memories": [{"content": "x", "metadata": 0}]},
        "memories[0].metadata",
    ),
    ("/agents/{a}/answer", {"question": "Where?", "limit": 1.5}, "limit"),
    ("/agents/{a}/context/summarize", {"scope": "everything"}, "scope"),
    ("/context/summarize", {"scope": "tenant"}, "scope"),
    (
        "/agents/{a}/context/compress",
        {"messages": [{"role": {"name": "user"}, "content": "hi"}]},
        "messages[0].role",
    ),
    ("/context/compress", {"messages": [{"role": 7, "content": "hi"}]}, "messages[0].role"),
    ("/agents", {"agent_id": "x-" + uuid.uuid4().hex[:6], "metadata": ""}, "metadata"),
]


@pytest.mark.parametrize(("path", "body", "field"), WRONG_KIND, ids=lambda v: str(v)[:40])
def test_a_value_of_the_wrong_kind_is_refused_not_coerced(v2, agent, token, path, body, field):
    refused(v2.post(path.format(a=agent), json=body, headers=token), field)


def test_the_forms_it_takes_still_work(v2, agent, token):
    stored = v2.post(
        f"/agents/{agent}/remember",
        params={"content": "I live in Lisbon.", "confidence": "0.5", "tags": "home, city"},
        headers=token,
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["confidence"] == 0.5
    empty = v2.post(f"/agents/{agent}/remember", params={"content": "x", "tags": ""}, headers=token)
    refused(empty, "tags")
    asked = v2.post(
        f"/agents/{agent}/answer", json={"question": "Where?", "limit": 2.0}, headers=token
    )
    assert asked.status_code == 200, asked.text
    for path in (f"/agents/{agent}/context/summarize", "/context/summarize"):
        summed = v2.post(path, json={"scope": "agent", "max_tokens": 200}, headers=token)
        assert summed.status_code == 200, summed.text


def _megabyte_of_sentences() -> list[dict[str, str]]:
    # Many short sentences that carry a number: each was once measured by joining the whole
    # summary kept so far (minutes for this body, every other request waiting).
    text = " ".join(f"{i % 10}." for i in range(350_000))
    return [{"role": "user", "content": text[k : k + 1000]} for k in range(0, len(text), 1000)]


@pytest.mark.parametrize("path", ["/agents/{a}/context/compress", "/context/compress"])
def test_a_megabyte_conversation_is_compressed(v2, agent, token, path):
    messages = _megabyte_of_sentences()
    answer = v2.post(
        path.format(a=agent), json={"messages": messages, "max_tokens": 100_000}, headers=token
    )
    assert answer.status_code == 200, answer.text[:300]
    body = answer.json()
    assert body["compressed"] is True and body["compressed_tokens"] <= 100_000
    assert body["messages"][-1] == messages[-1]
    assert body["messages"][0]["content"].startswith("Earlier in this conversation: user: 0.")


def test_a_star_is_never_a_user_or_session_id(v2, agent, token):
    """`*` means any in a Mem0 read filter, so it names no user or session here either."""
    for body, field in (
        ({"content": "x", "user_id": "*"}, "user_id"),
        ({"content": "x", "session_id": "*"}, "session_id"),
    ):
        one = v2.post(f"/agents/{agent}/remember", json=body, headers=token)
        assert one.status_code == 400 and field in one.json()["error"]["message"], one.text
        batch = v2.post(f"/agents/{agent}/batch-remember", json={"memories": [body]}, headers=token)
        assert batch.status_code == 400 and field in batch.json()["error"]["message"]


def test_a_memory_type_recall_does_not_know_is_refused_as_remember_refuses_it(v2, agent, token):
    """An unknown `memory_type` filtered every memory out (an empty 200, read as "nothing
    of that type"): recall refuses it naming the field, as remember does."""
    for path in (f"/agents/{agent}/recall", f"/agents/{agent}/recall/as-of"):
        params = {"query": "x", "memory_type": "bogus", "as_of": "2026-01-01T00:00:00Z"}
        refused(v2.get(path, params=params, headers=token), "memory_type")
    body = {"content": "x", "memory_type": "bogus"}
    refused(v2.post(f"/agents/{agent}/remember", json=body, headers=token), "memory_type")
    known = v2.get(
        f"/agents/{agent}/recall", params={"query": "x", "memory_type": "goal"}, headers=token
    )
    assert known.status_code == 200, known.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/agents/{a}/remember", {"content": "x", "tags": ["t" * 1000] * 70}, "tags"),
        ("/agents/{a}/remember", {"content": "x", "metadata": {"n": "m" * 70_000}}, "metadata"),
        (
            "/agents/{a}/batch-remember",
            {"memories": [{"content": "x"}, {"content": "x", "tags": ["t" * 1000] * 70}]},
            "memories[1].tags",
        ),
    ],
    ids=["tags", "metadata", "batch"],
)
def test_tags_too_large_are_named_as_tags(v2, agent, token, path, body, field):
    """Tags and metadata are kept together as the memory's metadata: long tags were refused
    as a metadata too large, though none was sent."""
    answer = v2.post(path.format(a=agent), json=body, headers=token)
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["message"].startswith(field), answer.text
