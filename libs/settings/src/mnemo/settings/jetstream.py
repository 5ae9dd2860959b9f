"""How the JetStream streams, KV buckets and durable consumers are made (every service).

The defaults are the one-machine values: one replica, no byte limit, commands and signals
kept 7 days, events 30, dead letters until an operator acts. deploy/README.md gives the
production values and why. Each service applies them at start: a stream or bucket that
exists already is updated to them where JetStream allows it (mnemo.bus.streams).
"""

from typing import Literal

import msgspec

DAY = 24 * 3600.0
# What JetStream can hold: durations are Go's int64 nanoseconds, sizes and counts int64. A
# larger value was refused at start as JSON JetStream could not read (a consumer's, as a
# bare traceback), after the setting had been taken.
MOST_SECONDS = (2**63 - 1) // 1_000_000_000
MOST_INT = 2**63 - 1

Discard = Literal["old", "new"]


class JetStreamSettings(msgspec.Struct, kw_only=True, frozen=True):
    # MNEMO_STREAM_REPLICAS: copies of every stream and KV bucket in a NATS cluster (1 on
    # one server; 3 in a 3-node cluster, so one node can be lost without losing a write).
    stream_replicas: int = 1
    # MNEMO_CMD_MAX_AGE: seconds commands are kept in MNEMO_CMD (0: no age limit).
    cmd_max_age: float = 7 * DAY
    # MNEMO_EVT_MAX_AGE: seconds events are kept in MNEMO_EVT (the log keeps them for ever).
    evt_max_age: float = 30 * DAY
    # MNEMO_OPS_MAX_AGE: seconds operational signals are kept in OPS.
    ops_max_age: float = 7 * DAY
    # MNEMO_DLQ_MAX_AGE: seconds dead letters are kept (0: until replayed or dropped).
    dlq_max_age: float = 0.0
    # MNEMO_CMD_MAX_BYTES: size limit of MNEMO_CMD in bytes (-1: none but the server's).
    cmd_max_bytes: int = -1
    # MNEMO_EVT_MAX_BYTES: size limit of MNEMO_EVT in bytes (-1: none).
    evt_max_bytes: int = -1
    # MNEMO_OPS_MAX_BYTES: size limit of OPS in bytes (-1: none).
    ops_max_bytes: int = -1
    # MNEMO_DLQ_MAX_BYTES: size limit of DLQ in bytes (-1: none).
    dlq_max_bytes: int = -1
    # MNEMO_CMD_DISCARD: what a full MNEMO_CMD does. "new": refuse the new command (the
    # gateway answers 507, nothing is promised); "old" would drop accepted commands that
    # may not have been handled yet, breaking the 202 they were given.
    cmd_discard: Discard = "new"
    # MNEMO_EVT_DISCARD: "new": a full MNEMO_EVT holds the relay back (the log keeps every
    # event, nothing is lost); "old" drops events some consumer may not have read.
    evt_discard: Discard = "new"
    # MNEMO_OPS_DISCARD: "old": a full OPS drops its oldest signals (already audited when
    # the audit keeps up) rather than refusing new ones.
    ops_discard: Discard = "old"
    # MNEMO_DLQ_DISCARD: "new": a dead letter is never dropped to make room; a full DLQ
    # refuses it and its message stays in its stream, pending, until there is room.
    dlq_discard: Discard = "new"
    # MNEMO_STREAM_DUPLICATE_WINDOW: seconds a message id is remembered, so a retried
    # publish (same Nats-Msg-Id) within it is stored once.
    stream_duplicate_window: float = 600.0
    # MNEMO_CONSUMER_ACK_WAIT: seconds JetStream waits for a consumer's ack before it
    # redelivers (consumers say "in progress" every third of it while they work).
    consumer_ack_wait: float = 30.0
    # MNEMO_CONSUMER_MAX_ACK_PENDING: messages a durable consumer (all its replicas
    # together) may hold unacknowledged; past it JetStream delivers no more.
    consumer_max_ack_pending: int = 1000

    def __post_init__(self) -> None:
        for field, most in (
            *((f"{kind}_max_age", MOST_SECONDS) for kind in ("cmd", "evt", "ops", "dlq")),
            *((f"{kind}_max_bytes", MOST_INT) for kind in ("cmd", "evt", "ops", "dlq")),
            ("stream_duplicate_window", MOST_SECONDS),
            ("consumer_ack_wait", MOST_SECONDS),
            ("consumer_max_ack_pending", MOST_INT),
        ):
            if getattr(self, field) > most:
                raise ValueError(f"MNEMO_{field.upper()} must be at most {most}")
        if not 1 <= self.stream_replicas <= 5:
            raise ValueError("MNEMO_STREAM_REPLICAS must be between 1 and 5")
        for kind in ("cmd", "evt", "ops", "dlq"):
            max_age = getattr(self, f"{kind}_max_age")
            name = f"MNEMO_{kind.upper()}"
            if max_age < 0:
                raise ValueError(f"{name}_MAX_AGE must be 0 (no limit) or more")
            if 0 < max_age < self.stream_duplicate_window:
                # JetStream refuses a duplicate window longer than the stream's max age.
                raise ValueError(f"{name}_MAX_AGE must be at least MNEMO_STREAM_DUPLICATE_WINDOW")
            max_bytes = getattr(self, f"{kind}_max_bytes")
            if max_bytes == 0 or max_bytes < -1:
                raise ValueError(f"{name}_MAX_BYTES must be -1 (no limit) or more than 0")
        if self.stream_duplicate_window <= 0:
            raise ValueError("MNEMO_STREAM_DUPLICATE_WINDOW must be more than 0")
        if self.consumer_ack_wait < 1:
            raise ValueError("MNEMO_CONSUMER_ACK_WAIT must be at least 1 second")
        if self.consumer_max_ack_pending < 1:
            raise ValueError("MNEMO_CONSUMER_MAX_ACK_PENDING must be at least 1")

    def stream_limits(self, kind: str) -> tuple[float, int, Discard]:
        """(max_age, max_bytes, discard) of the stream `kind`: cmd, evt, ops or dlq."""
        return (
            getattr(self, f"{kind}_max_age"),
            getattr(self, f"{kind}_max_bytes"),
            getattr(self, f"{kind}_discard"),
        )
