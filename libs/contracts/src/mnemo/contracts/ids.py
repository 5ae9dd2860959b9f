"""Identifiers. Derived ids are deterministic so redelivery and replay never duplicate."""

import uuid

# Fixed namespace: changing it would change every derived id ever issued.
MNEMO_NAMESPACE = uuid.UUID("6f1c1c8e-3b1e-4f55-9d7c-2b6a0f3e9a11")


def new_id() -> str:
    """A fresh random id (uuid4, canonical text form)."""
    return str(uuid.uuid4())


def derived_id(cause: str, *parts: str) -> str:
    """A uuid5 of the cause's id and what is derived from it: same inputs, same id."""
    name = "\x1f".join((cause, *parts))
    return str(uuid.uuid5(MNEMO_NAMESPACE, name))
