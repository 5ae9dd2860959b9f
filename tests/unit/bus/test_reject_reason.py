"""A message that does not decode is rejected saying what is wrong and where, in the
contract's words: never the value it carried (msgspec quotes a wrong tag or enum value, and
an unknown field's name), which the dead letter's reason would keep in the audit."""

import json

import pytest

from mnemo.bus import Delivery, Reject
from mnemo.contracts.commands import IngestMemory

WORD = "quokkaattic7"


def _delivery(payload: dict) -> Delivery:
    return Delivery(
        subject="mnemo.cmd.ingest.memory.t",
        data=json.dumps(payload).encode(),
        headers={},
        msg_id="m",
        tenant_id="t",
        correlation_id="c",
        causation_id="m",
        num_delivered=1,
        stream_sequence=1,
    )


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"type": f"the {WORD} tag", "content": "x"}, "not the contract's shape - at `$.type`"),
        ({"type": "ingest.memory", "content": 5}, "Expected `str`, got `int` - at `$.content`"),
        ({"type": "ingest.memory"}, "Object missing required field"),
    ],
)
def test_an_undecodable_message_is_rejected_without_its_values(payload, says):
    with pytest.raises(Reject) as caught:
        _delivery(payload).decode(IngestMemory)
    reason = str(caught.value)
    assert WORD not in reason and says in reason
    assert reason.startswith("undecodable IngestMemory: ")
