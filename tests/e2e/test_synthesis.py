"""Synthesis through the public API: a job change supersedes the employer in valid time
(asOf before it shows the old one, asOfKnowledge before it was learnt too), the manager
and employers show in GET /v1/entities with their relationships, the entity graph is 404
until something of the user is synthesized, and a rebuild from the log changes nothing."""

import uuid
from datetime import UTC, datetime

from .test_errors import assert_problem
from .waiting import eventually


def context(api, user_id: str, **params) -> dict:
    response = api.get("/v1/context", params={"userId": user_id, **params})
    assert response.status_code == 200, response.text
    return response.json()


def entities(api, user_id: str, **params) -> dict | None:
    """The entity graph, or None while it is 404 (nothing synthesized yet)."""
    response = api.get("/v1/entities", params={"userId": user_id, **params})
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()


def relations(graph: dict | None) -> set[tuple[str, str, str]]:
    return {
        (e["name"], e["type"], e["relationship"]) for e in (graph or {"entities": []})["entities"]
    }


def say(api, user_id: str, content: str, when: str) -> None:
    body = {"userId": user_id, "content": content, "metadata": {"timestamp": when}}
    response = api.post("/v1/ingest", json=body)
    assert response.status_code == 202, response.text


def test_a_job_change_supersedes_the_employer_and_names_the_manager(stack, api, user_id):
    token = uuid.uuid4().hex[:6]
    old, new, manager = f"Initrode{token}", f"Globex{token}", f"Sarah{token}"
    say(api, user_id, f"I work at {old} as a data analyst.", "2026-03-01T09:00:00Z")
    eventually(lambda: f"Works at {old}" in context(api, user_id)["static"])
    learnt_old_only = datetime.now(UTC).isoformat()

    say(
        api,
        user_id,
        f"Big news: I just joined {new}! My manager is {manager}.",
        "2026-06-01T09:00:00Z",
    )
    # The new employer, the old one's ending and the manager are one append to the log,
    # which the read model applies as one: once one shows, all of it does.
    now = eventually(
        lambda: (c := context(api, user_id)) and f"Works at {new}" in c["static"] and c
    )
    assert f"Works at {old}" not in now["static"]  # superseded, no longer current
    assert f"{manager} is their manager" in now["static"]
    assert "Works as a data analyst" in now["static"]  # another attribute: untouched

    before_change = context(api, user_id, asOf="2026-04-01T00:00:00Z")
    assert f"Works at {old}" in before_change["static"]
    assert f"Works at {new}" not in before_change["static"]
    known_then = context(api, user_id, asOfKnowledge=learnt_old_only)
    assert f"Works at {old}" in known_then["static"]
    assert f"Works at {new}" not in known_then["static"]

    wanted = {
        (manager, "person", "manager"),
        (new, "organization", "employer"),
        (old, "organization", "former employer"),
    }
    graph = eventually(lambda: (g := entities(api, user_id)) and wanted <= relations(g) and g)
    for entity in graph["entities"]:
        assert 0 < entity["confidence"] <= 1 and entity["id"]
    assert relations(entities(api, user_id, type="person")) == {(manager, "person", "manager")}
    assert (old, "organization", "employer") in relations(
        entities(api, user_id, asOf="2026-04-01T00:00:00Z")
    )

    # The read models are projections: rebuilt from the log, they say the same.
    assert "rebuilt the facts and entities from the log" in stack.rebuild("synthesis")
    assert relations(entities(api, user_id)) == relations(graph)
    assert sorted(context(api, user_id)["static"]) == sorted(now["static"])
    again = context(api, user_id, asOf="2026-04-01T00:00:00Z")
    assert sorted(again["static"]) == sorted(before_change["static"])


def test_the_same_fact_said_again_is_one_fact_and_a_negation_ends_it(api, user_id):
    say(api, user_id, "I use Notion for notes. I live in Porto.", "2026-01-01T09:00:00Z")
    say(api, user_id, "As I said, I use Notion every day.", "2026-01-05T09:00:00Z")
    eventually(lambda: "Uses Notion" in context(api, user_id)["static"])
    say(api, user_id, "I no longer use Notion.", "2026-02-01T09:00:00Z")
    eventually(lambda: "Uses Notion" not in context(api, user_id)["static"])
    profile = context(api, user_id)
    assert profile["static"].count("Lives in Porto") == 1
    assert context(api, user_id, asOf="2026-01-10T00:00:00Z")["static"].count("Uses Notion") == 1
    graph = eventually(lambda: ("Notion", "tool", "used") in relations(entities(api, user_id)))
    assert graph


def test_the_entity_graph_is_404_until_synthesized_and_after_forgetting(api, user_id):
    assert_problem(api.get("/v1/entities", params={"userId": user_id}), 404, "userId")
    say(api, user_id, "Nothing much to say today.", "2026-01-01T09:00:00Z")
    graph = eventually(lambda: entities(api, user_id))
    assert graph == {"entities": []}

    say(api, user_id, "I live in Lisbon.", "2026-01-02T09:00:00Z")
    eventually(lambda: ("Lisbon", "place", "lives in") in relations(entities(api, user_id)))
    assert api.delete("/v1/user", params={"userId": user_id}).status_code == 200
    eventually(lambda: api.get("/v1/entities", params={"userId": user_id}).status_code == 404)


def test_entity_parameters_are_checked(api, user_id):
    assert_problem(api.get("/v1/entities"), 400, "userId")
    assert_problem(
        api.get("/v1/entities", params={"userId": user_id, "type": "planet"}), 400, "type"
    )
    assert_problem(api.get("/v1/entities", params={"userId": user_id, "asOf": "soon"}), 400, "asOf")


def test_a_forgotten_user_starting_over_gets_nothing_back(api, user_id):
    token = uuid.uuid4().hex[:6]
    say(api, user_id, f"I work at Oldco{token}. My manager is Ann{token}.", "2026-01-01T09:00:00Z")
    eventually(
        lambda: (f"Oldco{token}", "organization", "employer") in relations(entities(api, user_id))
    )
    assert api.delete("/v1/user", params={"userId": user_id}).status_code == 200
    eventually(lambda: entities(api, user_id) is None)

    say(api, user_id, f"I just joined Newco{token}.", "2026-02-01T09:00:00Z")
    graph = eventually(lambda: entities(api, user_id))
    assert relations(graph) == {(f"Newco{token}", "organization", "employer")}
    # The fact comes in the same append as the entity: applied with it.
    assert context(api, user_id)["static"] == [f"Works at Newco{token}"]
