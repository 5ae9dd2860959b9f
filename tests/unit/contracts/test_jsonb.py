"""jsonb_json: what a jsonb column is given, so that it gives back what was written."""

import msgspec

from mnemo.contracts import MemoryRecorded, jsonb_json


def test_a_whole_float_in_exponent_form_is_written_whole_with_its_point():
    data = MemoryRecorded(
        memory_id="m", user_id="u", content="1e5 apples", metadata={"a": 1e20, "b": [2e30, 0.5]}
    )
    written = jsonb_json(data)
    assert b'"a":100000000000000000000.0' in written and b"e20" not in written
    assert b'"content":"1e5 apples"' in written  # text is text
    assert msgspec.json.decode(written, type=MemoryRecorded) == data


def test_json_without_an_exponent_is_msgspecs_own():
    value = {"a": 1.5, "b": 10, "c": "x", "d": [None, True]}
    assert jsonb_json(value) == msgspec.json.encode(value)
