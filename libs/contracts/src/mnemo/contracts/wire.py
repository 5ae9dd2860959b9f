"""A contract's fields by their names on the wire, looked up once per contract."""

from functools import cache

import msgspec


@cache
def wire_names(cls: type[msgspec.Struct]) -> tuple[tuple[str, str], ...]:
    """(attribute, name on the wire) of each field of `cls`. msgspec.structs.fields
    resolves the class's annotations on every call (~40 µs for a command): the gateway
    walked each command of a request with it, the audit each command it recorded."""
    return tuple((f.name, f.encode_name) for f in msgspec.structs.fields(cls))
