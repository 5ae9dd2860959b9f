"""Whom facts describe, through the public API and the real pipeline: two speakers in one
userId (metadata.author) keep their own facts, neither supersedes the other's; the
assistant's lines (metadata.role) become no fact; a third party named by a speaker is
their relation, not them; someone quoted is not the speaker; GET /v1/facts?about= lists
one person's facts."""

import uuid

from .test_llm_extractor import event
from .waiting import eventually


def _say(api, user_id: str, content: str, **metadata: str) -> str:
    sent = api.post(
        "/v1/ingest", json={"userId": user_id, "content": content, "metadata": metadata}
    )
    assert sent.status_code == 202, sent.text
    return sent.headers["x-correlation-id"]


def _facts(api, user_id: str, **params: str) -> set[tuple[str | None, str, str]]:
    response = api.get("/v1/facts", params={"userId": user_id, **params})
    assert response.status_code == 200, response.text
    return {(f["about"], f["attribute"], f["value"]) for f in response.json()["facts"]}


def test_two_speakers_an_assistant_and_a_third_party_in_one_conversation(api, user_id):
    said = [
        _say(api, user_id, "I work at Acme. I live in Lisbon.", author="Audrey"),
        _say(api, user_id, "I work at Globex. My sister Emma works at Initech.", author="Andrew"),
        _say(api, user_id, "I work at OpenAI and I live in Tokyo.", role="assistant"),
        _say(api, user_id, "I just joined Umbrella.", author="audrey"),
        _say(api, user_id, "I live in Paris."),
    ]
    for correlation in said:  # every memory read (the assistant's too) before asserting
        event(api, correlation, "memory.synthesized")
    everyone = {
        ("Audrey", "employer", "Umbrella"),
        ("Audrey", "location", "Lisbon"),
        ("Andrew", "employer", "Globex"),
        ("Andrew", "sister", "Emma"),
        (None, "location", "Paris"),
    }
    # The read model follows the events a moment after the audit shows them.
    eventually(lambda: _facts(api, user_id) == everyone)
    assert _facts(api, user_id, about="AUDREY") == {
        ("Audrey", "employer", "Umbrella"),
        ("Audrey", "location", "Lisbon"),
    }
    assert _facts(api, user_id, about="Andrew") == {
        ("Andrew", "employer", "Globex"),
        ("Andrew", "sister", "Emma"),
    }
    assert _facts(api, user_id, about="Nobody") == set()
    # Audrey's move replaced her own employer, and nobody else's.
    history = api.get("/v1/facts", params={"userId": user_id, "changedSince": "2000-01-01"})
    ended = {
        (f["about"], f["value"]) for f in history.json()["facts"] if f["status"] == "superseded"
    }
    assert ended == {("Audrey", "Acme")}
    assistant = event(api, said[2], "memory.synthesized")
    assert assistant["fact_ids"] == [] and assistant["extractor"] == "none:assistant"


def test_words_not_about_the_speaker_are_no_facts_about_them(api, user_id):
    """Someone quoted, a reaction to what the other person shows, a clause about a noun:
    none of it is a fact about the one who said it; their own statements still are."""
    said = [
        _say(
            api,
            user_id,
            'My mom called and said, "I\'m moving to Denver." I work at Acme.',
            author="Audrey",
        ),
        _say(api, user_id, "What a photo! I love the colours and the light.", author="Andrew"),
        _say(api, user_id, "It's a job I enjoy every day. I love jazz.", author="Andrew"),
    ]
    for correlation in said:
        event(api, correlation, "memory.synthesized")
    wanted = {("Audrey", "employer", "Acme"), ("Andrew", "preference", "jazz")}
    # The read model follows the events a moment after the audit shows them.
    eventually(lambda: _facts(api, user_id) == wanted)


def test_facts_about_someone_unknown_is_an_empty_list_and_a_long_name_is_400(api, user_id):
    assert _facts(api, user_id, about="Audrey") == set()
    refused = api.get("/v1/facts", params={"userId": user_id, "about": "x" * 300})
    assert refused.status_code == 400 and "about" in refused.text


def _words(items) -> str:
    return " | ".join(items)


def test_each_person_has_a_profile_an_entity_graph_and_a_pack_of_their_own(api, user_id):
    agent = "speakers-" + uuid.uuid4().hex[:6]
    lines = [
        ("I work at Acme. We got another cat named Bailey.", {"author": "Audrey"}),
        ("I work at Globex. My sister Emma visited me in Lisbon.", {"author": "Andrew"}),
        ("I live in Paris.", {}),
    ]
    said = []
    for content, metadata in lines:
        body = {"userId": user_id, "agentId": agent, "content": content, "metadata": metadata}
        sent = api.post("/v1/ingest", json=body)
        assert sent.status_code == 202, sent.text
        said.append(sent.headers["x-correlation-id"])
    for correlation in said:
        event(api, correlation, "memory.synthesized")

    def profile(**params: str) -> str:
        got = api.get("/v1/context", params={"userId": user_id, **params})
        assert got.status_code == 200, got.text
        return _words(got.json()["static"] + got.json()["dynamic"])

    # The read models follow the events a moment after the audit shows them.
    eventually(lambda: (p := profile()) and all(w in p for w in ("Acme", "Globex", "Paris")) and p)
    audrey = profile(about="audrey")
    assert "Acme" in audrey and "Globex" not in audrey and "Paris" not in audrey
    assert profile(about=user_id) == "Lives in Paris"  # the user's own lines
    assert profile(about="Nobody") == ""

    def graph(**params: str) -> set[tuple[str, str, str]]:
        got = api.get("/v1/entities", params={"userId": user_id, **params})
        assert got.status_code == 200, got.text
        return {(e["name"], e["type"], e["relationship"]) for e in got.json()["entities"]}

    eventually(
        lambda: (
            graph(about="Audrey")
            == {("Acme", "organization", "employer"), ("Bailey", "pet", "pet")}
        )
    )
    assert graph(about="ANDREW") == {
        ("Globex", "organization", "employer"),
        ("Emma", "person", "sister"),
        ("Lisbon", "place", "mentioned"),
    }
    assert graph(about=user_id) == {("Paris", "place", "lives in")}
    assert graph(type="pet") == {("Bailey", "pet", "pet")}

    path = f"/v1/agents/{agent}/packs/latest"

    def knowledge(**params: str) -> str:
        def compiled():
            r = api.get(path, params={"userId": user_id, **params})
            return r.status_code == 200 and r

        got = eventually(compiled)
        return _words(k["content"] for k in got.json()["content"]["knowledge"])

    assert "Acme" in knowledge() and "Globex" in knowledge()
    andrew = knowledge(about="Andrew")
    assert "Globex" in andrew and "Acme" not in andrew
