"""JSON for a PostgreSQL jsonb column that reads back as it was written.

jsonb keeps a number as a decimal with the scale it was written with: a float that JSON
writes in exponent form (`1e+20`, msgspec's shortest form of a large whole float) came
back as `100000000000000000000`, which every reader that tells them apart takes as an
int (a memory's metadata `{"score": 1e20}` was listed as an int). Such a float is written
out whole with `.0`; a fractional one in exponent form (`1.5e-07`) comes back as
`0.00000015`, still a float. Everything else is msgspec's JSON as it is.
"""

import re
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
# A number in exponent form: a value (after `:`, `,` or `[`, msgspec writes no spaces)
# with an `e` before any other character. Text that looks like one (`"a,1e5"`) only costs
# the walk below, which then changes nothing; ids (`"4e8a…"`, inside quotes) do not.
_EXPONENT = re.compile(rb"[:,\[]-?[0-9]+(?:\.[0-9]+)?[eE]")


def jsonb_json(value: Any) -> bytes:
    """`value` (a Struct or builtins) as JSON that jsonb gives back as it was written."""
    encoded = _encoder.encode(value)
    if not _EXPONENT.search(encoded):
        return encoded
    return _encoder.encode(_floats_kept(msgspec.to_builtins(value)))


def _floats_kept(value: Any) -> Any:
    if isinstance(value, float):
        if value.is_integer() and "e" in repr(value):
            return msgspec.Raw(f"{int(value)}.0".encode())
        return value
    if isinstance(value, dict):
        return {k: _floats_kept(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats_kept(v) for v in value]
    return value
