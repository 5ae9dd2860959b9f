"""Secrets out of what a caller sends, before it is published, stored, indexed or logged.

Text goes through the redaction rules; structured values (metadata) also lose every string
under a field whose name says it is a secret (see `mnemo.redaction.fields`). Ingest
redacts in `routes.ingest.to_command`; every other command that carries what a caller
wrote (an agent's description and metadata, a fact's new statement) goes through
`redacted` (the account commands' text: `TEXT_FIELDS`). An answer that echoes input
echoes the redacted form.
"""

from collections import Counter
from typing import Any, TypeVar

import msgspec

from mnemo.contracts import CreateAgent, CreateTenant, IssueKey, UpdateAgent
from mnemo.redaction import redact, redact_value

S = TypeVar("S", bound=msgspec.Struct)


def redact_text(text: str, counts: Counter[str]) -> str:
    result = redact(text)
    counts.update(result.counts)
    return result.text


def redacted(command: S, *fields: str) -> S:
    """`command` with the named fields (text or JSON values) redacted."""
    counts: Counter[str] = Counter()
    changes: dict[str, Any] = {
        name: redact_value(value, counts)
        for name in fields
        if (value := getattr(command, name)) is not None
    }
    return msgspec.structs.replace(command, **changes)


# The caller's free text in each account command: redacted like content, so a secret
# pasted into an agent's name or a key's label is neither stored nor audited (ids are
# refused instead: the input guard). One list for every surface that sends them.
TEXT_FIELDS: dict[type, tuple[str, ...]] = {
    CreateAgent: ("name", "description", "metadata"),
    UpdateAgent: ("name", "description", "metadata"),
    IssueKey: ("label",),
    CreateTenant: ("name", "agent_name"),
}


__all__ = ["TEXT_FIELDS", "redact_text", "redact_value", "redacted"]
