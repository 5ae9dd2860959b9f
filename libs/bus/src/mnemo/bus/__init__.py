"""The message bus over NATS JetStream.

Exports: `connect`, `ensure_streams`, `Publisher` (commands, events, signals with the
standard headers), `Consumer`/`ConsumerSpec`/`Delivery`/`Reject` (durable pull consumers
with ack-after-commit, bounded backoff and dead letters), and `serve`/`ask`/`QueryFailed`
(request/reply query services), `settled` (a start-up step waited for while a
dependency is away).
"""

from mnemo.bus.connection import connect, when_reconnected
from mnemo.bus.consumer import (
    BatchHandler,
    Consumer,
    ConsumerSpec,
    Delivery,
    Handler,
    Reject,
    envelope_context,
)
from mnemo.bus.erasure import erase_memories, erase_subject
from mnemo.bus.kv import erasable_key_value, key_value, kv_stream
from mnemo.bus.publisher import Publisher, PublishError, StreamFull, context_ids, request_cause
from mnemo.bus.queries import OVERLOADED, TOO_LARGE, QueryFailed, ask, serve
from mnemo.bus.startup import settled
from mnemo.bus.streams import StreamConfigRefused, ensure_streams, stream_configs

__all__ = [
    "OVERLOADED",
    "TOO_LARGE",
    "BatchHandler",
    "Consumer",
    "ConsumerSpec",
    "Delivery",
    "Handler",
    "PublishError",
    "Publisher",
    "QueryFailed",
    "Reject",
    "StreamConfigRefused",
    "StreamFull",
    "ask",
    "connect",
    "context_ids",
    "ensure_streams",
    "envelope_context",
    "erasable_key_value",
    "erase_memories",
    "erase_subject",
    "key_value",
    "kv_stream",
    "request_cause",
    "serve",
    "settled",
    "stream_configs",
    "when_reconnected",
]
