"""A memory's metadata is read back as it was written: jsonb keeps a number as a decimal
with its written scale, so a float JSON writes in exponent form (`1e20`) came back from
the read model as `100000000000000000000`, an int to every JSON reader that tells them
apart (a list, a get, a search showed it so)."""

import msgspec

from mnemo.contracts import GetMemoryQuery, ListMemoriesQuery, MemoryRecorded
from mnemo.retrieval.memories import MemoryTable

from .test_preceding_turns import recorded

WRITTEN = {
    "big": 1e20,
    "largest": 1.7976931348623157e308,
    "negative": -3e21,
    "tiny": -2.5e-7,
    "plain": 1500.0,
    "whole": 10,
    "nested": [1e16, {"deep": 1.2345e25}, 0.1],
    "text": "1e20",
    "flag": True,
    "none": None,
}


async def test_metadata_numbers_come_back_as_they_were_written(pool):
    event = recorded("t", "u", "I measured it", 1)
    assert isinstance(event.data, MemoryRecorded)
    event = msgspec.structs.replace(
        event, data=msgspec.structs.replace(event.data, metadata=WRITTEN)
    )
    table = MemoryTable(pool)
    await table.record_all([event])
    got = await table.get(GetMemoryQuery(tenant_id="t", memory_id=event.data.memory_id))
    assert got is not None
    shown = msgspec.json.decode(msgspec.json.encode(got.metadata))
    assert shown == WRITTEN
    assert {k: type(v) for k, v in shown.items()} == {k: type(v) for k, v in WRITTEN.items()}
    assert type(shown["nested"][1]["deep"]) is float
    page = await table.page(ListMemoriesQuery(tenant_id="t", user_id="u"))
    assert [m.metadata for m in page.memories] == [WRITTEN]
    assert type(page.memories[0].metadata["big"]) is float
