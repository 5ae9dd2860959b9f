"""POST /v1/answer, and MEMANTO's answer, without an LLM (the default stack: the extractive
answer; tests/e2e/test_llm_extractor.py has the LLM's). A current fact outranks the memory
of the fact it superseded, asOf answers as things were then, asOfKnowledge as Mnemo knew
them, and the answer names the facts and memories it rests on."""

import uuid

import httpx

from .waiting import eventually

LISBON_AT = "2024-03-01T10:00:00Z"
MADRID_AT = "2024-09-01T10:00:00Z"


def remember(api, user_id: str, content: str, at: str) -> dict:
    body = {"userId": user_id, "content": content, "metadata": {"timestamp": at}}
    response = api.post("/v1/ingest", json=body)
    assert response.status_code == 202, response.text
    return response.json()


def facts(api, user_id: str) -> dict[str, dict]:
    response = api.get("/v1/facts", params={"userId": user_id})
    return {f["statement"]: f for f in response.json()["facts"]}


def ask(api, user_id: str, question: str, **more) -> dict:
    response = api.post("/v1/answer", json={"userId": user_id, "question": question, **more})
    assert response.status_code == 200, response.text
    return response.json()


def moved(api) -> tuple[str, str, str]:
    """A user who lived in Lisbon, then moved to Madrid (the fact superseded)."""
    user_id = "mover-" + uuid.uuid4().hex[:8]
    lisbon = remember(api, user_id, "I live in Lisbon, close to the sea.", LISBON_AT)["id"]
    eventually(lambda: "Lives in Lisbon" in facts(api, user_id))
    madrid = remember(api, user_id, "I moved last week, I live in Madrid now.", MADRID_AT)["id"]
    eventually(lambda: set(facts(api, user_id)) == {"Lives in Madrid"})
    eventually(
        lambda: (
            len(
                api.get("/v1/search", params={"userId": user_id, "q": "live", "limit": 5}).json()[
                    "results"
                ]
            )
            == 2
        )
    )
    return user_id, lisbon, madrid


def test_the_current_fact_answers_never_the_memory_it_superseded(api):
    user_id, _, madrid = moved(api)
    answered = ask(api, user_id, "Where do I live?", limit=5)
    assert answered["method"] == "extractive"
    assert "Madrid" in answered["answer"] and "Lisbon" not in answered["answer"]
    assert [f["statement"] for f in answered["facts"]] == ["Lives in Madrid"]
    assert answered["facts"][0]["status"] == "current"
    # What it rests on: the fact (and maybe the memory it came from), never the memory
    # of the fact it superseded.
    assert {m["id"] for m in answered["memories"]} <= {madrid}


def test_as_of_answers_as_things_were_then(api):
    user_id, lisbon, _ = moved(api)
    then = ask(api, user_id, "Where do I live?", asOf="2024-06-01T00:00:00Z")
    assert "Lisbon" in then["answer"] and "Madrid" not in then["answer"]
    assert [f["statement"] for f in then["facts"]] == ["Lives in Lisbon"]
    assert then["asOf"].startswith("2024-06-01")
    assert {m["id"] for m in then["memories"]} <= {lisbon}
    # Known before anything was ingested: nothing to answer from.
    before = ask(api, user_id, "Where do I live?", asOfKnowledge="2020-01-01T00:00:00Z")
    assert before["answer"] is None and before["method"] == "none"
    assert before["facts"] == [] and before["memories"] == []


def test_a_question_nothing_answers(api):
    user_id = "nobody-" + uuid.uuid4().hex[:8]
    answered = ask(api, user_id, "What is my favourite colour?")
    assert answered == {
        "question": "What is my favourite colour?",
        "answer": None,
        "confidence": 0.0,
        "method": "none",
        "facts": [],
        "memories": [],
        "asOf": None,
        "asOfKnowledge": None,
    }


def test_bad_input_is_a_problem_naming_the_field(api):
    cases = [
        ({"question": "where?"}, "userId"),
        ({"userId": "u", "question": "  "}, "question"),
        ({"userId": "u", "question": "x" * 5000}, "question"),
        ({"userId": "u", "question": "where?", "limit": 0}, "limit"),
        ({"userId": "u", "question": "where?", "limit": "5"}, "limit"),
        ({"userId": "u", "question": "where?", "asOf": "2024-06-01T00:00:00"}, "asOf"),
        ({"userId": "u", "question": "where?", "asOfKnowledge": "yesterday"}, "asOfKnowledge"),
    ]
    for body, field in cases:
        response = api.post("/v1/answer", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["details"]["field"] == field, (body, response.json())


def test_memanto_answer_prefers_the_current_fact(stack):
    agent = "mover-" + uuid.uuid4().hex[:6]
    with httpx.Client(
        base_url=f"{stack.base_url}/api/v2",
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=15,
    ) as v2:
        assert v2.post("/agents", json={"agent_id": agent}).status_code == 201
        session = {"X-Session-Token": v2.post(f"/agents/{agent}/activate").json()["session_token"]}

        def remember_v2(content: str) -> None:
            sent = v2.post(
                f"/agents/{agent}/remember", params={"content": content}, headers=session
            )
            assert sent.status_code == 201, sent.text

        def current() -> list[str]:
            found = v2.get(f"/agents/{agent}/recall/current", headers=session).json()
            return [m["content"] for m in found["data"]["memories"]]

        remember_v2("I live in Lisbon, close to the sea.")
        eventually(lambda: "Lives in Lisbon" in current())
        remember_v2("I moved last week, I live in Madrid now.")
        eventually(lambda: current() == ["Lives in Madrid"])
        eventually(
            lambda: (
                len(
                    v2.get(
                        f"/agents/{agent}/recall", params={"query": "live"}, headers=session
                    ).json()["data"]["memories"]
                )
                == 2
            )
        )
        answered = v2.post(
            f"/agents/{agent}/answer", json={"question": "Where do I live?"}, headers=session
        ).json()["data"]
        assert "Madrid" in answered["answer"] and "Lisbon" not in answered["answer"]
        assert answered["method"] == "extractive"
        assert all("Lisbon" not in s["content"] for s in answered["sources"])


def test_a_fact_found_by_meaning_is_one_the_answer_rests_on(api):
    """The question shares no word with the fact, but the search finds the memory it was
    drawn from: the fact is among those the answer names."""
    user_id = "nurse-" + uuid.uuid4().hex[:8]
    said = remember(api, user_id, "I work as a nurse at the city hospital.", LISBON_AT)["id"]
    fact = eventually(lambda: next(iter(facts(api, user_id).values()), None))
    assert not {"living", "do"} & set(fact["statement"].lower().split())
    eventually(
        lambda: api.get("/v1/search", params={"userId": user_id, "q": "nurse"}).json()["results"]
    )
    answered = ask(api, user_id, "What do I do for a living?")
    assert [f["statement"] for f in answered["facts"]] == [fact["statement"]]
    assert fact["evidence"][0]["memoryId"] == said
