"""Identifiers. Derived ids are deterministic so redelivery and replay never duplicate."""

import uuid
from collections.abc import Iterable

# Fixed namespace: changing it would change every derived id ever issued.
MNEMO_NAMESPACE = uuid.UUID("6f1c1c8e-3b1e-4f55-9d7c-2b6a0f3e9a11")


def new_id() -> str:
    """A fresh random id (uuid4, canonical text form)."""
    return str(uuid.uuid4())


_SEPARATOR = "\x1f"
_ESCAPE = "\x1e"


def joined(parts: Iterable[str]) -> str:
    """`parts` as one text from which they can be told apart again: two different lists
    of one part or more never give one text, whatever their parts hold. Parts are joined
    by US (\\x1f); a part holding US or RS (\\x1e) (a user's id may: `botA\\x1fbob` must not
    read as agent botA's user bob) is written as RS then itself with RS doubled and US as
    RS + "_". A part holding neither is written as it is, so ids derived before this rule
    stand."""
    return _SEPARATOR.join(_part(part) for part in parts)


def _part(part: str) -> str:
    if _SEPARATOR not in part and _ESCAPE not in part:
        return part
    return _ESCAPE + part.replace(_ESCAPE, _ESCAPE * 2).replace(_SEPARATOR, _ESCAPE + "_")


def derived_id(cause: str, *parts: str) -> str:
    """A uuid5 of the cause's id and what is derived from it: same inputs, same id, and
    different inputs, different ids (`joined`)."""
    return str(uuid.uuid5(MNEMO_NAMESPACE, joined((cause, *parts))))


def subject_tag(tenant_id: str, user_id: str) -> str:
    """The stable name of one tenant's user on the bus (the `Mnemo-Subject` header): lets a
    forget find every message about the user without reading, or naming, the user."""
    return derived_id("subject", tenant_id, user_id)


def tenant_tag(tenant_id: str) -> str:
    """A tenant's name as one safe token (in KV keys, whose alphabet is narrow)."""
    return derived_id("tenant", tenant_id)
