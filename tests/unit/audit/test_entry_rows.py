"""What the audit keeps of a message: what happened, never what was said."""

import msgspec

from mnemo.audit.entries import AGENT_POSITIONS, POSITIONS, entry_row, entry_rows
from mnemo.audit.handlers import _shown
from mnemo.bus import Delivery
from mnemo.contracts import Headers, IngestMemory, derived_id, new_id, utcnow


def delivered(subject: str, body: object, kind: str, service: str, msg_id: str) -> Delivery:
    """`body` as the audit's consumer receives it, first delivery."""
    return Delivery(
        subject=subject, data=msgspec.json.encode(body),
        headers={Headers.TYPE: kind, Headers.SERVICE: service},
        msg_id=msg_id, tenant_id="t", correlation_id="c", causation_id="r",
        num_delivered=1, stream_sequence=1,
    )  # fmt: skip


def test_a_command_is_audited_without_its_content_or_metadata():
    command = IngestMemory(
        command_id=new_id(), tenant_id="t", issued_at=utcnow(), actor="a", memory_id="m1",
        user_id="u1", content="my secret words", metadata={"topic": "more secret words"},
    )  # fmt: skip
    delivery = delivered(
        "mnemo.cmd.ingest.memory.t", command, "ingest.memory", "gateway", command.command_id
    )
    row = entry_row("command", delivery)
    data = msgspec.json.decode(row[-1])
    assert data["memory_id"] == "m1" and data["user_id"] == "u1"
    assert "secret" not in row[-1]
    assert "content" not in data and "metadata" not in data


def test_a_compiled_pack_is_audited_without_its_query_or_content():
    envelope = {
        "event_id": new_id(), "stream_id": "pack-t-a", "stream_version": 0,
        "global_position": 7, "actor": "key:k", "recorded_at": "2026-01-01T00:00:00+00:00",
        "data": {
            "type": "pack.compiled", "agent_id": "a", "user_id": "u1",
            "query": "where did I hide the spare key", "preset": "conversational",
            "content": {"summary": "the spare key is under the mat"}, "token_count": 12,
        },
    }  # fmt: skip
    delivery = delivered(
        "mnemo.evt.t.pack.compiled", envelope, "pack.compiled", "synthesis", envelope["event_id"]
    )
    row = entry_row("event", delivery)
    data = msgspec.json.decode(row[-1])
    assert data["data"]["agent_id"] == "a" and data["data"]["token_count"] == 12
    assert "spare key" not in row[-1]


def test_a_command_from_outside_the_gateway_is_audited_with_its_contracts_fields_only():
    body = {
        "type": "ingest.memory", "command_id": new_id(), "tenant_id": "t", "actor": "a",
        "issued_at": "2026-01-01T00:00:00+00:00", "memory_id": "m1", "user_id": "u1",
        "text": "my secret words", "note": {"deep": "more secret words"},
    }  # fmt: skip
    delivery = delivered(
        "mnemo.cmd.ingest.memory.t", body, "ingest.memory", "tests", body["command_id"]
    )
    row = entry_row("command", delivery)
    assert msgspec.json.decode(row[-1])["memory_id"] == "m1"
    assert "secret" not in row[-1]


def test_a_memorys_session_and_source_ids_are_not_audited():
    """The client's names for a memory's conversation and source (a Mem0 run_id, an
    Elephantasm session, a file name as sourceId) are sealed in the log with its content
    and erased from the bus by a forget; the audit, never erased, must not keep them."""
    command = IngestMemory(
        command_id=new_id(), tenant_id="t", issued_at=utcnow(), actor="a", memory_id="m1",
        user_id="u1", content="words", session_id="therapy-with-dr-quill",
        source_id="divorce-papers.pdf",
    )  # fmt: skip
    recorded = {
        "event_id": new_id(), "stream_id": "memory-t-m1", "stream_version": 0, "actor": "a",
        "recorded_at": "2026-01-01T00:00:00+00:00",
        "data": {
            "type": "memory.recorded", "memory_id": "m1", "user_id": "u1", "agent_id": "g",
            "content": "words", "session_id": "therapy-with-dr-quill",
            "source_id": "divorce-papers.pdf", "chunks": [],
        },
    }  # fmt: skip
    rows = [
        entry_row("command", delivered(
            "mnemo.cmd.ingest.memory.t", command, "ingest.memory", "gateway", command.command_id
        )),
        entry_row("event", delivered(
            "mnemo.evt.t.memory.recorded", recorded, "memory.recorded", "ingest",
            recorded["event_id"],
        )),
    ]  # fmt: skip
    for row in rows:
        assert "m1" in row[-1] and "u1" in row[-1]
        assert "quill" not in row[-1] and "divorce" not in row[-1], row[-1]


def test_a_dead_letter_is_audited_without_its_place_in_the_shared_stream():
    """A dead letter's sequence counts every tenant's commands (or events): two of a
    tenant's in its audit would tell it how many of other tenants' came between, as an
    event's global position did. What an operator needs of it, `mnemo admin dead-letters`
    shows; the tenant's audit keeps the consumer, the reason and the deliveries."""
    signal = {
        "signal_id": new_id(), "signal_type": "message.dead_lettered", "tenant_id": "t",
        "service": "ingest", "occurred_at": "2026-01-01T00:00:00+00:00",
        "correlation_id": "c", "causation_id": "m",
        "data": {
            "consumer": "ingest-memory", "subject": "mnemo.cmd.ingest.memory.t",
            "stream_sequence": 48213, "deliveries": 5, "reason": "rejected: not a command",
        },
    }  # fmt: skip
    row = entry_row("signal", delivered(
        "mnemo.ops.t.message.dead_lettered", signal, "message.dead_lettered", "ingest",
        signal["signal_id"],
    ))  # fmt: skip
    data = msgspec.json.decode(row[-1])
    assert data["consumer"] == "ingest-memory" and data["deliveries"] == 5
    assert data["reason"] == "rejected: not a command"
    assert "stream_sequence" not in data and "48213" not in row[-1]


def test_an_entry_kept_before_answers_without_positions_in_a_shared_stream():
    """Entries recorded before positions were left out still hold them: they are not
    answered."""
    kept = {"consumer": "ingest-memory", "stream_sequence": 48213, "global_position": 7}
    assert _shown(dict(kept), POSITIONS) == {"consumer": "ingest-memory"}


def test_an_agent_key_is_answered_no_version_of_a_stream_its_tenants_agents_share():
    kept = {"stream_id": "synthesis-facts-t-u", "stream_version": 22, "global_position": 7}
    assert _shown(dict(kept), POSITIONS) == {
        "stream_id": "synthesis-facts-t-u",
        "stream_version": 22,
    }
    assert _shown(dict(kept), POSITIONS | AGENT_POSITIONS) == {"stream_id": "synthesis-facts-t-u"}


def test_an_indexed_batch_gives_each_memory_its_requests_trace():
    """A `memories.indexed` signal is one row per memory, each with the trace of the span
    that handled its recording (its request's trace), not the batch message's."""
    trace_a, trace_b = "a" * 32, "b" * 32
    signal = {
        "signal_id": "batch", "signal_type": "memories.indexed", "tenant_id": "t",
        "service": "retrieval", "occurred_at": "2026-01-01T00:00:00+00:00",
        "correlation_id": "batch", "causation_id": "batch",
        "data": {"memories": [
            {"memory_id": "m1", "event_id": "e1", "correlation_id": "c1", "lag_ms": 5,
             "traceparent": f"00-{trace_a}-{'1' * 16}-01"},
            {"memory_id": "m2", "event_id": "e2", "correlation_id": "c2", "lag_ms": 7,
             "traceparent": f"00-{trace_b}-{'2' * 16}-01"},
        ]},
    }  # fmt: skip
    rows = entry_rows(
        "signal",
        delivered("mnemo.ops.t.memories.indexed", signal, "memories.indexed", "retrieval", "b"),
    )
    assert [(r[1], r[3], r[5], r[6], r[9]) for r in rows] == [
        (derived_id("e1", "memory.indexed"), "memory.indexed", "c1", "e1", trace_a),
        (derived_id("e2", "memory.indexed"), "memory.indexed", "c2", "e2", trace_b),
    ]


def test_a_batch_signal_not_of_its_contracts_shape_is_kept_as_it_came():
    signal = {
        "signal_id": "batch", "signal_type": "memories.indexed", "tenant_id": "t",
        "service": "retrieval", "occurred_at": "2026-01-01T00:00:00+00:00",
        "correlation_id": "c", "causation_id": "r", "data": {"memories": [{"memory_id": 1}]},
    }  # fmt: skip
    [row] = entry_rows(
        "signal",
        delivered("mnemo.ops.t.memories.indexed", signal, "memories.indexed", "retrieval", "b"),
    )
    assert (row[1], row[3], row[5]) == ("b", "memories.indexed", "c")
