"""Deleting one memory leaves no plaintext of it behind, as forgetting a user does: once
`DELETE /v1/memories/{id}` (or Mem0's `DELETE /mem0/v1/memories/{id}/`, or deleting the
agent whose memory it is) has answered,
within a bounded time, no byte of what that memory said is left in any file Mnemo
writes: its sealed recording can no longer be opened (its own key is shredded), its
command and event are erased from the streams, the read models' tables and the key
table are rewritten, the vector store is compacted. The user's other memory stays, on
disk and searchable.

What synthesis drew from a deleted memory (here an employer: a fact's statement and an
entity's name) leaves the read models with it, and the event stream once every service
that reads it has (it stays sealed under the user's key in the log: README, "Deleting one
memory").
"""

import uuid

import httpx

from .stack import Stack, free_port
from .test_forget_erases import ERASED_WITHIN, holding, named, rows_holding
from .test_memories_api import memories
from .test_thin_path import search
from .waiting import eventually


def test_a_deleted_memorys_words_leave_every_file(own_nats, own_postgres, tmp_path):
    nats, postgres = own_nats, own_postgres
    database_url = postgres.create_database("delete")
    stack = Stack(
        nats_url=nats.url, database_url=database_url, home=tmp_path / "stack",
        bus_root="del" + uuid.uuid4().hex[:8], port=free_port(),
    )  # fmt: skip
    token = uuid.uuid4().hex[:10]
    native, mem0_word, kept = f"quillonfen{token}", f"marrowdune{token}", f"brandlewick{token}"
    agents_word, agent = f"tamberlode{token}", "eraser-agent-" + token[:6]
    employer = f"Sorrelgate{token}"  # a fact and an entity synthesis draws
    user = "deleter-" + token[:6]
    stack.start()
    try:
        stack.wait_healthy()
        with (
            stack.client() as api,
            httpx.Client(
                base_url=stack.base_url,
                headers={"Authorization": f"Token {stack.api_key}"},
                timeout=30,
            ) as mem0,
        ):
            said = [
                {"userId": user, "content": f"I work at {employer}. The word is {native}"},
                {"userId": user, "content": f"another word to forget: {mem0_word}"},
                {"userId": user, "content": f"the word to keep is {kept}"},
                # An agent's memory: deleting the agent deletes it (no mark of its own).
                {"userId": user, "agentId": agent, "content": f"an agent heard {agents_word}"},
            ]
            assert api.post("/v1/ingest/batch", json={"items": said}).status_code == 202
            eventually(lambda: memories(api, user)["total"] == 4, timeout=120)
            for word in (native, mem0_word, kept, agents_word):
                eventually(lambda w=word: search(api, user, w), timeout=120)
            facts = {"userId": user}
            eventually(lambda: employer in api.get("/v1/facts", params=facts).text, timeout=120)
            listed = {m["content"]: m["id"] for m in memories(api, user)["memories"]}
            by_word = {w: next(i for c, i in listed.items() if w in c) for w in (native, mem0_word)}

            roots = [nats.data_dir, postgres.data_dir, stack.home]
            assert holding(roots, native) and holding(roots, mem0_word), "premise: on disk"
            assert holding(roots, agents_word), "premise: on disk"
            assert holding([nats.data_dir], employer), "premise: derived events on the bus"

            response = api.delete(f"/v1/memories/{by_word[native]}")
            assert response.status_code == 200, response.text
            response = mem0.delete(f"/mem0/v1/memories/{by_word[mem0_word]}/")
            assert response.status_code == 200, response.text
            response = api.delete(f"/v1/agents/{agent}")
            assert response.status_code == 200, response.text

            left: list[str] = []

            def erased() -> bool:
                left[:] = []
                for word in (native, mem0_word, agents_word, employer):
                    left.extend(holding(roots, word) + rows_holding(database_url, word))
                return not left

            try:
                eventually(erased, timeout=ERASED_WITHIN, every=2.0)
            except AssertionError:
                left[:] = named(database_url, left)
                raise AssertionError(f"the deleted words are still in {left}") from None

            # The other memory is untouched: on disk, listed and searchable.
            assert holding(roots, kept)
            assert [m["content"] for m in memories(api, user)["memories"]] == [
                f"the word to keep is {kept}"
            ]
            assert search(api, user, kept)
    finally:
        stack.stop()
