"""Fact management through /v1/facts: list the current facts (with ids, valid time, status
and evidence), as of a time, as known at a time and changed since a time; validate,
supersede and contradict, each an event with the caller as actor in the request's audit
chain; profiles follow; agent keys reach only their agent's facts, other tenants none."""

import uuid
from datetime import UTC, datetime

from .test_accounts import as_key, sign_up
from .test_errors import assert_problem
from .test_synthesis import context, say
from .waiting import eventually


def facts(api, user_id: str, **params) -> list[dict]:
    response = api.get("/v1/facts", params={"userId": user_id, **params})
    assert response.status_code == 200, response.text
    return response.json()["facts"]


def by_statement(found: list[dict]) -> dict[str, dict]:
    return {f["statement"]: f for f in found}


def chain(api, correlation_id: str, event_type: str) -> list[dict]:
    response = api.get("/v1/audit/events", params={"correlation_id": correlation_id})
    assert response.status_code == 200, response.text
    return [e for e in response.json()["events"] if e["type"] == event_type]


def test_facts_are_listed_with_their_valid_time_and_evidence(api, user_id):
    token = uuid.uuid4().hex[:6]
    say(api, user_id, f"I work at Acme{token}. I live in Porto.", "2026-03-01T09:00:00Z")
    found = eventually(lambda: len(f := facts(api, user_id)) == 2 and f)
    employer = by_statement(found)[f"Works at Acme{token}"]
    assert employer["attribute"] == "employer" and employer["value"] == f"Acme{token}"
    assert employer["kind"] == "static" and employer["category"] == "work"
    assert employer["status"] == "current" and employer["validTo"] is None
    assert employer["validFrom"].startswith("2026-03-01T09:00:00")
    assert employer["extractor"] == "rules-v2" and 0 < employer["confidence"] <= 1
    assert not employer["validated"] and not employer["contradicted"]
    # Synthesis and retrieval follow the log apart: the memory may be listed a moment later.
    memory_id = eventually(
        lambda: (
            (m := api.get("/v1/memories", params={"userId": user_id}).json()["memories"])
            and m[0]["id"]
        )
    )
    assert [e["memoryId"] for e in employer["evidence"]] == [memory_id]
    assert employer["evidence"][0]["span"][1] > employer["evidence"][0]["span"][0]

    said_again = datetime.now(UTC).isoformat()
    say(api, user_id, f"As I said, I work at Acme{token}.", "2026-03-05T09:00:00Z")
    again = eventually(
        lambda: (
            len(e := by_statement(facts(api, user_id))[f"Works at Acme{token}"]["evidence"]) == 2
            and e
        )
    )
    assert again[1]["occurredAt"].startswith("2026-03-05")
    changed = facts(api, user_id, changedSince=said_again)
    assert [f["statement"] for f in changed] == [f"Works at Acme{token}"]
    assert facts(api, user_id, asOf="2026-02-01T00:00:00Z") == []


def test_validate_supersede_and_contradict_are_audited_and_profiles_follow(api, user_id):
    token = uuid.uuid4().hex[:6]
    old, new = f"Initech{token}", f"Hooli{token}"
    say(api, user_id, f"I work at {old}. I live in Oslo.", "2026-03-01T09:00:00Z")
    found = eventually(lambda: len(f := facts(api, user_id)) == 2 and by_statement(f))
    employer, place = found[f"Works at {old}"], found["Lives in Oslo"]
    before_changes = datetime.now(UTC).isoformat()

    validated = api.post(
        f"/v1/facts/{employer['id']}/validate", headers={"x-correlation-id": f"val-{token}"}
    )
    assert validated.status_code == 200, validated.text
    assert validated.json()["fact"]["validated"] is True
    assert validated.json()["fact"]["confidence"] == 1.0
    [step] = eventually(lambda: chain(api, f"val-{token}", "fact.validated"))
    assert step["service"] == "synthesis" and step["data"]["actor"] == "key:dev"

    superseded = api.post(
        f"/v1/facts/{employer['id']}/supersede",
        json={"content": f"Works at {new}", "value": new, "validFrom": "2026-06-01T00:00:00Z"},
        headers={"x-correlation-id": f"sup-{token}"},
    )
    assert superseded.status_code == 200, superseded.text
    change = superseded.json()
    assert change["fact"]["status"] == "superseded"
    assert change["fact"]["validTo"].startswith("2026-06-01")
    assert change["fact"]["supersededBy"] == change["newFact"]["id"]
    assert change["newFact"]["statement"] == f"Works at {new}"
    assert change["newFact"]["extractor"] == "api"

    def events_of(correlation_id: str) -> list[dict]:
        response = api.get("/v1/audit/events", params={"correlation_id": correlation_id})
        return [e for e in response.json()["events"] if e["kind"] == "event"]

    steps = eventually(lambda: len(s := events_of(f"sup-{token}")) == 2 and s)
    types = {e["type"] for e in steps}
    assert types == {"fact.extracted", "fact.superseded"}

    contradicted = api.post(
        f"/v1/facts/{place['id']}/contradict",
        json={"content": "Lives in Bergen", "value": "Bergen", "reason": "moved, says HR"},
        headers={"x-correlation-id": f"con-{token}"},
    )
    assert contradicted.status_code == 200, contradicted.text
    both = contradicted.json()
    assert both["fact"]["contradicted"] and both["fact"]["status"] == "current"
    assert both["newFact"]["contradicted"]
    assert both["fact"]["contradictedBy"] == [both["newFact"]["id"]]
    steps = eventually(lambda: len(s := chain(api, f"con-{token}", "fact.contradicted")) == 2 and s)
    assert all("statement" not in s["data"]["data"] for s in steps)  # the caller's words

    current = by_statement(facts(api, user_id))
    assert set(current) == {f"Works at {new}", "Lives in Oslo", "Lives in Bergen"}
    assert current["Lives in Oslo"]["contradicted"]
    # Profiles: now, as of before the new job, and as known before the changes.
    profile = context(api, user_id)
    assert f"Works at {new}" in profile["static"] and f"Works at {old}" not in profile["static"]
    assert {"Lives in Oslo", "Lives in Bergen"} <= set(profile["static"])
    then = context(api, user_id, asOf="2026-04-01T00:00:00Z")
    assert f"Works at {old}" in then["static"] and f"Works at {new}" not in then["static"]
    known = context(api, user_id, asOfKnowledge=before_changes)
    assert f"Works at {old}" in known["static"] and "Lives in Bergen" not in known["static"]
    as_of = by_statement(facts(api, user_id, asOf="2026-04-01T00:00:00Z"))
    assert as_of[f"Works at {old}"]["status"] == "current"
    assert f"Works at {new}" not in as_of
    assert by_statement(facts(api, user_id, asOfKnowledge=before_changes)).keys() == {
        f"Works at {old}",
        "Lives in Oslo",
    }
    # Superseding what already ended is a conflict.
    again = api.post(f"/v1/facts/{employer['id']}/supersede", json={"content": "Works at X"})
    assert_problem(again, 409, "factId")


def test_fact_changes_are_checked(api, user_id):
    say(api, user_id, "I live in Lyon.", "2026-01-01T09:00:00Z")
    [fact] = eventually(lambda: facts(api, user_id))
    url = f"/v1/facts/{fact['id']}"
    # A body that breaks its schema is 422; a value that breaks a rule, 400.
    assert_problem(api.post(f"{url}/supersede", json={}), 422, "content")
    assert_problem(api.post(f"{url}/supersede", json={"content": "  "}), 400, "content")
    assert_problem(api.post(f"{url}/supersede", json={"content": 5}), 422, "content")
    assert_problem(
        api.post(
            f"{url}/supersede",
            json={"content": "Lives in Nice", "validFrom": "2025-01-01T00:00:00Z"},
        ),
        400,
        "validFrom",
    )
    assert_problem(
        api.post(f"{url}/supersede", json={"content": "x", "validFrom": "2026-05-01T00:00:00"}),
        400,
        "validFrom",
    )
    assert_problem(api.post(f"{url}/contradict", json={"reason": ""}), 400, "reason")
    assert_problem(api.post("/v1/facts/nope/validate"), 404, "factId")
    assert_problem(api.get("/v1/facts"), 400, "userId")
    assert_problem(
        api.get("/v1/facts", params={"userId": user_id, "changedSince": "x"}), 400, "changedSince"
    )


def test_agent_keys_reach_their_agent_s_facts_and_other_tenants_none(stack, api, user_id):
    token = uuid.uuid4().hex[:6]
    tenant = sign_up(api, "facts-" + token)
    with as_key(stack, tenant.master) as admin:
        made = admin.post("/v1/agents", json={"name": "other", "id": f"other-{token}"})
        assert made.status_code == 201, made.text
        key = admin.post("/v1/keys", json={"kind": "agent", "agentId": f"other-{token}"})
        other_key = key.json()["key"]
    with as_key(stack, tenant.agent_key) as agent, as_key(stack, other_key) as other:
        sent = agent.post("/v1/ingest", json={"userId": user_id, "content": "I live in Turin."})
        assert sent.status_code == 202, sent.text
        [fact] = eventually(lambda: facts(agent, user_id))
        assert fact["agentId"] == tenant.agent_id
        assert facts(other, user_id) == []
        assert_problem(other.post(f"/v1/facts/{fact['id']}/validate"), 404, "factId")
        assert_problem(api.post(f"/v1/facts/{fact['id']}/validate"), 404, "factId")
        assert facts(api, user_id) == []  # the development tenant's user of that name: none
        done = agent.post(f"/v1/facts/{fact['id']}/validate")
        assert done.status_code == 200, done.text
    with as_key(stack, tenant.master) as admin:
        [seen] = facts(admin, user_id)
        assert seen["validated"]


def test_fact_answers_match_the_openapi_document(api, user_id):
    from .test_openapi import answer_schema, check

    document = api.get("/docs/openapi.json").json()
    say(api, user_id, "I work at Docsco. I live in Gent.", "2026-01-01T09:00:00Z")
    found = eventually(lambda: len(f := facts(api, user_id)) == 2 and f)
    listed = api.get("/v1/facts", params={"userId": user_id})
    check(document, answer_schema(document, "get", "/v1/facts", 200), listed.json())
    calls = [
        ("validate", api.post(f"/v1/facts/{found[0]['id']}/validate")),
        ("supersede", api.post(f"/v1/facts/{found[0]['id']}/supersede", json={"content": "x"})),
        ("contradict", api.post(f"/v1/facts/{found[1]['id']}/contradict", json={"reason": "r"})),
    ]
    for change, response in calls:
        assert response.status_code == 200, response.text
        path = f"/v1/facts/{{fact_id}}/{change}"
        check(document, answer_schema(document, "post", path, 200), response.json())


FUTURE = "2999-01-01T00:00:00Z"
LATER = "3000-01-01T00:00:00Z"


def test_reads_without_as_of_are_about_now_and_a_later_fact_waits_for_its_time(api, user_id):
    """A memory dated in the future (metadata.timestamp) ends the current employer then,
    not now: every read without asOf (facts, profile, entities, answer, a pack, MEMANTO's
    current) shows what holds now, as asOf=now does, and an asOf after it the later one."""
    token = uuid.uuid4().hex[:6]
    agent = "future-" + token
    now_co, later_co = f"Timeco{token}", f"Laterco{token}"
    for content, when in (
        (f"I work at {now_co}.", "2026-03-01T09:00:00Z"),
        (f"I work at {later_co}.", FUTURE),
    ):
        body = {
            "userId": user_id,
            "agentId": agent,
            "content": content,
            "metadata": {"timestamp": when},
        }
        assert api.post("/v1/ingest", json=body).status_code == 202
    ever = "2000-01-01T00:00:00Z"
    eventually(lambda: len(facts(api, user_id, changedSince=ever)) == 2, timeout=120)

    default = by_statement(facts(api, user_id))
    assert set(default) == {f"Works at {now_co}"}
    assert default[f"Works at {now_co}"]["status"] == "current"
    assert default[f"Works at {now_co}"]["validTo"].startswith("2999-01-01")
    now = datetime.now(UTC).isoformat()
    assert by_statement(facts(api, user_id, asOf=now)).keys() == default.keys()
    later = by_statement(facts(api, user_id, asOf=LATER))
    assert (
        set(later) == {f"Works at {later_co}"}
        and later[f"Works at {later_co}"]["status"] == "current"
    )
    # Every fact changed since: statuses as of now.
    listed = by_statement(facts(api, user_id, changedSince=ever))
    assert listed[f"Works at {now_co}"]["status"] == "current"

    assert f"Works at {now_co}" in context(api, user_id)["static"]
    assert f"Works at {later_co}" not in context(api, user_id)["static"]
    assert f"Works at {later_co}" in context(api, user_id, asOf=LATER)["static"]

    def relations(**params: str) -> set[tuple[str, str]]:
        graph = api.get("/v1/entities", params={"userId": user_id, **params}).json()
        return {(e["name"], e["relationship"]) for e in graph["entities"]}

    assert relations() == {(now_co, "employer")}
    assert relations(asOf=LATER) == {(now_co, "former employer"), (later_co, "employer")}

    answered = api.post("/v1/answer", json={"userId": user_id, "question": "Where do I work?"})
    assert answered.status_code == 200, answered.text
    assert [f["statement"] for f in answered.json()["facts"]] == [f"Works at {now_co}"]

    pack = eventually(
        lambda: (
            (
                r := api.get(f"/v1/agents/{agent}/packs/latest", params={"userId": user_id})
            ).status_code
            == 200
            and r.json()["sessionMemoryCount"] == 2
            and r.json()
        ),
        timeout=120,
    )
    knowledge = [k["content"] for k in pack["content"]["knowledge"]]
    assert f"Works at {now_co}" in knowledge and f"Works at {later_co}" not in knowledge

    v2 = "/api/v2/agents/" + agent
    session = api.post(f"{v2}/activate").json()["session_token"]
    current = api.get(
        f"{v2}/recall/current", params={"user_id": user_id}, headers={"X-Session-Token": session}
    )
    assert current.status_code == 200, current.text
    assert [m["content"] for m in current.json()["memories"]] == [f"Works at {now_co}"]
    assert current.json()["memories"][0]["current"] is True


def test_a_supersession_from_a_later_date_ends_the_fact_then_not_now(api, user_id):
    say(api, user_id, "I live in Oslo.", "2026-03-01T09:00:00Z")
    [oslo] = eventually(lambda: facts(api, user_id))
    changed = api.post(
        f"/v1/facts/{oslo['id']}/supersede",
        json={"content": "Lives in Bergen", "validFrom": FUTURE},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["fact"]["status"] == "current"  # until 2999, as GET /v1/facts says
    eventually(lambda: len(facts(api, user_id, changedSince="2000-01-01T00:00:00Z")) == 2)
    [still] = facts(api, user_id)
    assert still["statement"] == "Lives in Oslo" and still["status"] == "current"
    assert still["validTo"].startswith("2999-01-01")
    profile = context(api, user_id)["static"]
    assert "Lives in Oslo" in profile and "Lives in Bergen" not in profile
    assert [f["statement"] for f in facts(api, user_id, asOf=LATER)] == ["Lives in Bergen"]
