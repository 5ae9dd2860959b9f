"""The ids of the message being handled, in a ContextVar, bound into every log line.

Whatever a handler publishes or appends takes its correlation id from here and its
causation id from the id of the message being handled, so chains need no plumbing. A log
line carries the correlation id, the message's own id and its causation id (what caused
the message being handled: for an HTTP request, which nothing before it caused, the
request itself); a batch handled at once carries its messages' (`batch_context`).
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import msgspec
import structlog


class MessageContext(msgspec.Struct, frozen=True, kw_only=True):
    correlation_id: str
    # The id of the message (or request) being handled: the cause of what it produces.
    message_id: str
    tenant_id: str | None = None
    request_id: str | None = None
    # What caused the message being handled (its Mnemo-Causation-Id).
    causation_id: str | None = None


_current: ContextVar[MessageContext | None] = ContextVar("mnemo_message_context", default=None)


def current_context() -> MessageContext | None:
    return _current.get()


@contextmanager
def message_context(ctx: MessageContext, **extra: str | None) -> Iterator[MessageContext]:
    """Make `ctx` current and bind its ids (and `extra`) into every log line inside."""
    token = _current.set(ctx)
    fields = {
        "correlation_id": ctx.correlation_id,
        "causation_id": ctx.causation_id,
        "message_id": ctx.message_id,
        "tenant_id": ctx.tenant_id,
        "request_id": ctx.request_id,
        **extra,
    }
    with structlog.contextvars.bound_contextvars(
        **{k: v for k, v in fields.items() if v is not None}
    ):
        try:
            yield ctx
        finally:
            _current.reset(token)


@contextmanager
def batch_context(contexts: Sequence[MessageContext], **extra: str | None) -> Iterator[None]:
    """Bind the ids of a batch's messages into every log line inside: the correlation id
    they share (or `correlation_ids`, each once, when they differ), their own ids
    (`message_ids`) and their causes (`causation_ids`). A line about one message of the
    batch binds that message's with `message_context`."""
    correlations = list(dict.fromkeys(c.correlation_id for c in contexts))
    tenants = {c.tenant_id for c in contexts}
    fields: dict[str, object] = {
        "message_ids": [c.message_id for c in contexts],
        "causation_ids": list(dict.fromkeys(c.causation_id for c in contexts if c.causation_id)),
        **extra,
    }
    if len(correlations) == 1:
        fields["correlation_id"] = correlations[0]
    else:
        fields["correlation_ids"] = correlations
    if len(tenants) == 1:
        fields["tenant_id"] = tenants.pop()
    with structlog.contextvars.bound_contextvars(
        **{k: v for k, v in fields.items() if v is not None}
    ):
        yield
