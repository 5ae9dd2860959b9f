"""The LLM extractor against a stand-in chat-completions server (tests/e2e/llm_standin.py;
a remote LLM cannot run here): a good answer becomes the facts; malformed JSON, a wrong
shape, a server that keeps failing and a used-up tenant budget all fall back to the
built-in extractor, and the memory.synthesized event says why. The API key is sent and
never logged. Synthesis runs with the LLM for this module only."""

import uuid

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
    stack.stop("synthesis")
    stack.start(
        "synthesis",
        MNEMO_LLM_URL=f"http://{host}:{port}/v1",
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


def synthesized(api, correlation_id: str) -> dict:
    """The memory.synthesized event's data, as the audit shows it."""

    def probe() -> dict | None:
        response = api.get("/v1/audit/events", params={"correlation_id": correlation_id})
        found = [e for e in response.json()["events"] if e["type"] == "memory.synthesized"]
        return found[0]["data"]["data"] if found else None

    return eventually(probe)


def statements(api, user_id: str) -> dict[str, dict]:
    response = api.get("/v1/facts", params={"userId": user_id})
    assert response.status_code == 200, response.text
    return {f["statement"]: f for f in response.json()["facts"]}


def employer_answer(org: str) -> dict:
    return {
        "facts": [
            {
                "attribute": "employer",
                "value": org,
                "statement": f"Works at {org}",
                "confidence": 0.9,
                "quote": f"work at {org}",
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


def test_health_shows_the_llm_and_stays_ok_when_it_is_down(stack, standin):
    import httpx

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


def test_a_good_answer_becomes_the_facts(stack, standin, tenant_api, user_id):
    token = uuid.uuid4().hex[:8]
    org = f"Zorg{token}"
    standin.script(token, Reply(answer=employer_answer(org)))
    # The rules would also find "Likes sailing"; the model's answer is what counts.
    correlation = remember(tenant_api, user_id, f"I work at {org} and I love sailing.")
    done = synthesized(tenant_api, correlation)
    assert done["extractor"] == f"llm:{MODEL}" and done["fallback_reason"] is None
    facts = eventually(lambda: statements(tenant_api, user_id))
    assert set(facts) == {f"Works at {org}"}
    assert facts[f"Works at {org}"]["extractor"] == f"llm:{MODEL}"
    assert facts[f"Works at {org}"]["evidence"][0]["span"] == [2, 2 + len(f"work at {org}")]

    [sent] = standin.requests_for(token)
    assert sent.body["model"] == MODEL
    assert sent.body["response_format"]["type"] == "json_schema"
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in (stack.home / "logs" / "synthesis.log").read_text()


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
            "invalid: facts[0].attribute 'favourite_colour' is not a known attribute",
        ),
        (
            Reply(answer={"facts": [{"attribute": "employer", "quote": "x"}]}),
            "invalid: Object missing required field",
        ),
        (Reply(answer=employer_answer("Nowhere Inc")), "invalid: facts[0].quote is not"),
    ],
)
def test_a_bad_answer_falls_back_to_the_rules(standin, tenant_api, user_id, reply, reason):
    token = uuid.uuid4().hex[:8]
    standin.script(token, reply)
    correlation = remember(tenant_api, user_id, f"I live in Lund{token}.")
    done = synthesized(tenant_api, correlation)
    assert done["extractor"] == "rules-v2"
    assert done["fallback_reason"].startswith(reason), done
    facts = eventually(lambda: statements(tenant_api, user_id))
    assert set(facts) == {f"Lives in Lund{token}"}
    assert facts[f"Lives in Lund{token}"]["extractor"] == "rules-v2"


def test_failures_are_retried_then_fall_back(standin, tenant_api, user_id):
    token = uuid.uuid4().hex[:8]
    org = f"Retry{token}"
    standin.script(token, Reply(status=503), Reply(answer=employer_answer(org)))
    done = synthesized(tenant_api, remember(tenant_api, user_id, f"I work at {org}."))
    assert done["extractor"] == f"llm:{MODEL}"
    assert len(standin.requests_for(token)) == 2

    down = uuid.uuid4().hex[:8]
    standin.script(down, Reply(status=500))
    done = synthesized(tenant_api, remember(tenant_api, user_id, f"I live in Down{down}."))
    assert done["extractor"] == "rules-v2"
    assert done["fallback_reason"].startswith("unavailable: ")
    assert len(standin.requests_for(down)) == 3  # MNEMO_LLM_RETRIES=2: three attempts
    eventually(lambda: f"Lives in Down{down}" in statements(tenant_api, user_id))


def test_past_the_tenant_budget_the_rules_read_with_reason_budget(standin, tenant_api, user_id):
    token = uuid.uuid4().hex[:8]
    reasons = []
    for n in range(4):  # MNEMO_LLM_TENANT_BUDGET=3
        correlation = remember(tenant_api, user_id, f"I use Tool{n}x{token}.")
        reasons.append(synthesized(tenant_api, correlation)["fallback_reason"])
    assert reasons == [None, None, None, "budget"]
    assert len(standin.requests_for(token)) == 3
    # The memory is not lost: the rules read it.
    eventually(lambda: f"Uses Tool3x{token}" in statements(tenant_api, user_id))


def test_memanto_answers_with_the_llm_when_one_is_configured(stack, standin):
    import httpx

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
