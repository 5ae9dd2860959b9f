"""The ids of the message being handled, in a ContextVar, bound into every log line.

Whatever a handler publishes or appends takes its correlation id from here and its
causation id from the id of the message being handled, so chains need no plumbing.
"""

from collections.abc import Iterator
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


_current: ContextVar[MessageContext | None] = ContextVar("mnemo_message_context", default=None)


def current_context() -> MessageContext | None:
    return _current.get()


@contextmanager
def message_context(ctx: MessageContext, **extra: str | None) -> Iterator[MessageContext]:
    """Make `ctx` current and bind its ids (and `extra`) into every log line inside."""
    token = _current.set(ctx)
    fields = {
        "correlation_id": ctx.correlation_id,
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
