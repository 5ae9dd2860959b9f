"""The LLM extractor against a stand-in chat-completions server (tests/e2e/llm_standin.py;
a remote LLM cannot run here), in two phases: the rules read every memory at once
(memory.synthesized, always the rules), then the model reads it again in the background
(memory.refined). A good answer adds to or supersedes the rules' facts, or corroborates
them; malformed JSON, a wrong shape, a server that keeps failing and a used-up tenant budget
leave the rules' facts as they are, and memory.refined says why. A slow model never holds
back the first phase, and /v1/health shows how many memories it has yet to read. The API
key is sent and never logged. Synthesis runs with the LLM for this module only."""

import threading
import uuid

import httpx
import pytest

from .llm_standin import LLMStandIn, Reply, serve
from .test_accounts import as_key, sign_up
from .waiting import eventually

MODEL = "standin-model"
SECRET = "sk-standin-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def standin(stack):
    llm = LLMStandIn()
    server = serve(llm)
    host, port = server.server_address[:2]
    llm.url = f"http://{host}:{port}/v1"
    stack.stop("synthesis")
    stack.start(
        "synthesis",
        MNEMO_LLM_URL=llm.url,
        MNEMO_LLM_MODEL=MODEL,
        MNEMO_LLM_API_KEY=SECRET,
        MNEMO_LLM_RETRIES="2",
        MNEMO_LLM_TENANT_BUDGET="3",
    )
    stack.wait_healthy()
    try:
        yield llm
    finally:
        stack.stop("synthesis")
        stack.start("synthesis")
        stack.wait_healthy()
        server.shutdown()


@pytest.fixture
def tenant_api(stack):
    """A fresh tenant per test: the budget is counted per tenant."""
    with stack.client() as api:
        tenant = sign_up(api, "llm-" + uuid.uuid4().hex[:8])
    with as_key(stack, tenant.master) as client:
        yield client


def remember(api, user_id: str, content: str) -> str:
    response = api.post("/v1/ingest", json={"userId": user_id, "content": content})
    assert response.status_code == 202, response.text
    return response.headers["x-correlation-id"]


def event(api, correlation_id: str, type_: str) -> dict:
    """The data of the request's `type_` event, as the audit shows it."""

    def probe() -> dict | None:
        response = api.get("/v1/audit/events", params={"correlation_id": correlation_id})
        found = [e for e in response.json()["events"] if e["type"] == type_]
        return found[0]["data"]["data"] if found else None

    return eventually(probe)


def refined(api, correlation_id: str) -> dict:
    """memory.refined (the model's reading), after memory.synthesized (the rules')."""
    first = event(api, correlation_id, "memory.synthesized")
    assert first["extractor"] == "rules-v2" and first["fallback_reason"] is None, first
    return event(api, correlation_id, "memory.refined")


def statements(api, user_id: str) -> dict[str, dict]:
    response = api.get("/v1/facts", params={"userId": user_id})
    assert response.status_code == 200, response.text
    return {f["statement"]: f for f in response.json()["facts"]}


def employer_answer(org: str, quote: str | None = None) -> dict:
    return {
        "facts": [
            {
                "attribute": "employer",
                "value": org,
                "statement": f"Works at {org}",
                "confidence": 0.9,
                "quote": quote or f"work at {org}",
            }
        ],
        "negations": [],
        "mentions": [
            {
                "name": org,
                "type": "organization",
                "relationship": "employer",
                "confidence": 0.9,
                "quote": org,
            }
        ],
    }


def llm_backlog(stack) -> int | None:
    response = httpx.get(f"{stack.base_url}/v1/health", timeout=10)
    return response.json()["services"]["synthesis"].get("backlog", {}).get("llm")


def test_health_shows_the_llm_and_stays_ok_when_it_is_down(stack, standin):
    def llm_check(well: bool):
        """(status code, synthesis's llm check) once the check is (not) "ok"."""

        def probe() -> tuple[int, str] | None:
            response = httpx.get(f"{stack.base_url}/v1/health", timeout=10)
            check = response.json()["services"]["synthesis"]["checks"]["llm"]
            return (response.status_code, check) if (check == "ok") == well else None

        return eventually(probe)

    assert llm_check(well=True) == (200, "ok")
    standin.models_status = 503
    try:
        # Shown, but not counted: memories still go through (the rules read them).
        code, check = llm_check(well=False)
        assert code == 200 and check.startswith("error: ") and "HTTP 503" in check
    finally:
        standin.models_status = 200


def test_the_model_adds_what_the_rules_missed(stack, standin, tenant_api, user_id):
    token = uuid.uuid4().hex[:8]
    org = f"Zorg{token}"
    standin.script(token, Reply(answer=employer_answer(org, quote=org)))
    # The rules read "Likes sailing" but not the employer; the model reads the employer.
    correlation = remember(tenant_api, user_id, f"{org} pays my salary, and I love sailing.")
    done = refined(tenant_api, correlation)
    assert done["extractor"] == f"llm:{MODEL}" and done["fallback_reason"] is None
    assert len(done["fact_ids"]) == 1 and done["superseded_fact_ids"] == []
    facts = eventually(
        lambda: (found := statements(tenant_api, user_id)) and len(found) == 2 and found
    )
    assert set(facts) == {f"Works at {org}", "Likes sailing"}
    assert facts[f"Works at {org}"]["extractor"] == f"llm:{MODEL}"
    assert facts[f"Works at {org}"]["evidence"][0]["span"] == [0, len(org)]
    assert facts["Likes sailing"]["extractor"] == "rules-v2"

    [sent] = standin.requests_for(token)
    assert sent.body["model"] == MODEL
    assert sent.body["response_format"]["type"] == "json_schema"
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in (stack.home / "logs" / "synthesis.log").read_text()


def test_the_same_fact_is_corroborated_a_different_one_supersedes(standin, tenant_api, user_id):
    token = uuid.uuid4().hex[:8]
    org = f"Same{token}"
    standin.script(token, Reply(answer=employer_answer(org)))
    done = refined(tenant_api, remember(tenant_api, user_id, f"I work at {org}."))
    assert done["fact_ids"] == [] and len(done["corroborated_fact_ids"]) == 1
    assert set(statements(tenant_api, user_id)) == {f"Works at {org}"}

    other = uuid.uuid4().hex[:8]
    city = f"Malmo{other}"
    answer = {
        "facts": [
            {
                "attribute": "location",
                "value": city,
                "statement": f"Lives in {city}",
                "confidence": 0.9,
                "quote": city,
            }
        ]
    }
    standin.script(other, Reply(answer=answer))
    # The rules read "Lund..." as where the user lives; the model reads Malmo (it is the
    # stand-in: it is told to): its fact supersedes the rules'.
    content = f"I live in Lund{other}, next to {city}."
    done = refined(tenant_api, remember(tenant_api, user_id, content))
    assert len(done["fact_ids"]) == 1 and len(done["superseded_fact_ids"]) == 1
    facts = eventually(
        lambda: (
            (found := statements(tenant_api, user_id))
            and f"Lives in Lund{other}" not in found
            and found
        )
    )
    assert set(facts) == {f"Works at {org}", f"Lives in {city}"}


def test_a_slow_model_holds_back_nothing_and_health_shows_its_backlog(
    stack, standin, tenant_api, user_id
):
    token = uuid.uuid4().hex[:8]
    org = f"Slow{token}"
    gate = threading.Event()
    standin.script(token, Reply(answer=employer_answer(org, quote=org), hold=gate))
    try:
        correlation = remember(tenant_api, user_id, f"{org} pays me, and I love rowing.")
        # While the model thinks: the rules' facts are there, the memory is searchable,
        # and the health report counts the memory the model has yet to read.
        first = event(tenant_api, correlation, "memory.synthesized")
        assert first["extractor"] == "rules-v2"
        eventually(lambda: "Likes rowing" in statements(tenant_api, user_id))
        eventually(
            lambda: tenant_api.post(
                "/v1/search", json={"userId": user_id, "query": "rowing", "mode": "keyword"}
            ).json()["results"]
        )
        assert eventually(lambda: (n := llm_backlog(stack)) and n >= 1 and n) >= 1
        assert eventually(lambda: standin.requests_for(token))
    finally:
        gate.set()
    done = event(tenant_api, correlation, "memory.refined")
    assert done["extractor"] == f"llm:{MODEL}" and len(done["fact_ids"]) == 1
    eventually(lambda: f"Works at {org}" in statements(tenant_api, user_id))
    assert eventually(lambda: llm_backlog(stack) == 0)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(text="{'facts': [oops"), "invalid: the answer is not JSON"),
        (
            Reply(
                answer={
                    "facts": [
                        {
                            "attribute": "favourite_colour",
                            "value": "teal",
                            "statement": "Likes teal",
                            "confidence": 0.8,
                            "quote": "teal",
                        }
                    ]
                }
            ),
            # What the model wrote is not repeated: it may hold the memory's words.
            "invalid: facts[0].attribute is not a known attribute",
        ),
        (
            Reply(answer={"facts": [{"attribute": "employer", "quote": "x"}]}),
            "invalid: Object missing required field",
        ),
        (Reply(answer=employer_answer("Nowhere Inc")), "invalid: facts[0].quote is not"),
    ],
)
def test_a_bad_answer_leaves_the_rules_facts(standin, tenant_api, user_id, reply, reason):
    token = uuid.uuid4().hex[:8]
    standin.script(token, reply)
    correlation = remember(tenant_api, user_id, f"I live in Lund{token}.")
    done = refined(tenant_api, correlation)
    assert done["extractor"] == f"llm:{MODEL}"
    assert done["fallback_reason"].startswith(reason), done
    assert done["fact_ids"] == [] and done["corroborated_fact_ids"] == []
    facts = statements(tenant_api, user_id)
    assert set(facts) == {f"Lives in Lund{token}"}
    assert facts[f"Lives in Lund{token}"]["extractor"] == "rules-v2"


def test_failures_are_retried_then_given_up(standin, tenant_api, user_id):
    token = uuid.uuid4().hex[:8]
    org = f"Retry{token}"
    standin.script(token, Reply(status=503), Reply(answer=employer_answer(org, quote=org)))
    content = f"{org} pays me."
    done = refined(tenant_api, remember(tenant_api, user_id, content))
    assert done["fallback_reason"] is None and len(done["fact_ids"]) == 1
    assert len(standin.requests_for(token)) == 2

    down = uuid.uuid4().hex[:8]
    standin.script(down, Reply(status=500))
    done = refined(tenant_api, remember(tenant_api, user_id, f"I live in Down{down}."))
    assert done["fallback_reason"].startswith("unavailable: ")
    assert len(standin.requests_for(down)) == 3  # MNEMO_LLM_RETRIES=2: three attempts
    assert f"Lives in Down{down}" in statements(tenant_api, user_id)


def test_past_the_tenant_budget_the_model_is_not_asked(standin, tenant_api, user_id):
    token = uuid.uuid4().hex[:8]
    reasons = []
    for n in range(4):  # MNEMO_LLM_TENANT_BUDGET=3
        correlation = remember(tenant_api, user_id, f"I use Tool{n}x{token}.")
        reasons.append(refined(tenant_api, correlation)["fallback_reason"])
    assert reasons == [None, None, None, "budget"]
    assert len(standin.requests_for(token)) == 3
    # The memory is not lost: the rules read it.
    assert f"Uses Tool3x{token}" in statements(tenant_api, user_id)


def test_memanto_answers_with_the_llm_when_one_is_configured(stack, standin):
    agent = "llm-answer-" + uuid.uuid4().hex[:6]
    token = "zanzibar" + uuid.uuid4().hex[:6]
    with httpx.Client(
        base_url=f"{stack.base_url}/api/v2",
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=15,
    ) as v2:
        assert v2.post("/agents", json={"agent_id": agent}).status_code == 201
        session = {"X-Session-Token": v2.post(f"/agents/{agent}/activate").json()["session_token"]}
        content = f"The {token} project ships on the first Monday of June."
        assert (
            v2.post(
                f"/agents/{agent}/remember", params={"content": content}, headers=session
            ).status_code
            == 201
        )
        eventually(
            lambda: v2.get(
                f"/agents/{agent}/recall", params={"query": token}, headers=session
            ).json()["memories"]
        )
        standin.script(
            token,
            Reply(answer={"answer": "The first Monday of June.", "confidence": 0.9, "used": [0]}),
        )
        answered = v2.post(
            f"/agents/{agent}/answer",
            json={"question": f"When does {token} ship?"},
            headers=session,
        ).json()
        assert answered["answer"] == "The first Monday of June."
        assert answered["method"] == f"llm:{MODEL}" and answered["confidence"] == 0.9
        assert [s["content"] for s in answered["sources"]] == [content]
        # A reply that breaks the schema: the offline answer, not an error.
        standin.script(token, Reply(text="not json"))
        fallback = v2.post(
            f"/agents/{agent}/answer",
            json={"question": f"When does {token} ship?"},
            headers=session,
        ).json()
        assert fallback["method"] == "extractive" and token in fallback["answer"]


def test_v1_answer_asks_the_model_with_dates_speakers_and_facts(standin, tenant_api, user_id):
    token = "quokka" + uuid.uuid4().hex[:6]
    content = f"The {token} launch moved to Friday."
    sent = tenant_api.post(
        "/v1/ingest",
        json={
            "userId": user_id,
            "content": content,
            "metadata": {"timestamp": "2024-05-07T09:00:00Z", "author": "Caroline"},
        },
    )
    assert sent.status_code == 202, sent.text
    refined(tenant_api, sent.headers["x-correlation-id"])
    eventually(
        lambda: tenant_api.post(
            "/v1/search", json={"userId": user_id, "query": token, "searchMode": "keyword"}
        ).json()["results"]
    )
    question = f"When is the {token} launch?"
    standin.script(question, Reply(answer={"answer": "On Friday.", "confidence": 0.8, "used": [0]}))
    answered = tenant_api.post("/v1/answer", json={"userId": user_id, "question": question})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["answer"] == "On Friday." and body["method"] == f"llm:{MODEL}"
    assert [m["content"] for m in body["memories"]] == [content]
    [asked] = [s for s in standin.requests_for(question)]
    passages = asked.body["messages"][1]["content"]
    # The model reads when it was said and by whom, not the bare words.
    assert f"(2024-05-07) Caroline said: {content}" in passages


def test_with_llm_extract_false_the_model_answers_but_reads_no_memory(
    stack, standin, tenant_api, user_id
):
    stack.stop("synthesis")
    stack.start(
        "synthesis",
        MNEMO_LLM_URL=standin.url,
        MNEMO_LLM_MODEL=MODEL,
        MNEMO_LLM_EXTRACT="false",
    )
    stack.wait_healthy()
    token = "wombat" + uuid.uuid4().hex[:6]
    correlation = remember(tenant_api, user_id, f"I work at {token} Labs.")
    assert event(tenant_api, correlation, "memory.synthesized")["extractor"] == "rules-v2"
    eventually(
        lambda: tenant_api.post(
            "/v1/search", json={"userId": user_id, "query": token, "searchMode": "keyword"}
        ).json()["results"]
    )
    # No second phase: no consumer (so no backlog shown) and the model was never asked.
    assert llm_backlog(stack) is None
    assert standin.requests_for(token) == []
    question = f"Where does {token} fit?"
    standin.script(question, Reply(answer={"answer": "Labs.", "confidence": 0.5, "used": [0]}))
    answered = tenant_api.post("/v1/answer", json={"userId": user_id, "question": question})
    assert answered.json()["method"] == f"llm:{MODEL}"
