"""What the audit keeps of a message: what happened, never what was said."""

import msgspec

from mnemo.audit.entries import entry_row
from mnemo.bus import Delivery
from mnemo.contracts import Headers, IngestMemory, new_id, utcnow


def test_a_command_is_audited_without_its_content_or_metadata():
    command = IngestMemory(
        command_id=new_id(), tenant_id="t", issued_at=utcnow(), actor="a", memory_id="m1",
        user_id="u1", content="my secret words", metadata={"topic": "more secret words"},
    )  # fmt: skip
    delivery = Delivery(
        subject="mnemo.cmd.ingest.memory.t", data=msgspec.json.encode(command),
        headers={Headers.TYPE: "ingest.memory", Headers.SERVICE: "gateway"},
        msg_id=command.command_id, tenant_id="t", correlation_id="c", causation_id="r",
        num_delivered=1, stream_sequence=1,
    )  # fmt: skip
    row = entry_row("command", delivery)
    data = msgspec.json.decode(row[-1])
    assert data["memory_id"] == "m1" and data["user_id"] == "u1"
    assert "secret" not in row[-1]
    assert "content" not in data and "metadata" not in data
