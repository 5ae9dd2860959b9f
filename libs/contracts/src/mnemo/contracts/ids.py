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


def subject_tag(tenant_id: str, user_id: str) -> str:
    """The stable name of one tenant's user on the bus (the `Mnemo-Subject` header): lets a
    forget find every message about the user without reading, or naming, the user."""
    return derived_id("subject", tenant_id, user_id)


def tenant_tag(tenant_id: str) -> str:
    """A tenant's name as one safe token (in KV keys, whose alphabet is narrow)."""
    return derived_id("tenant", tenant_id)
