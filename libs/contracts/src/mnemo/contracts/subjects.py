"""Subject and stream naming. One `Topology` value names everything on the bus.

The root is configurable so that tests (and several deployments on one NATS) each get
their own streams and subjects; production uses the default root "mnemo".
"""

import msgspec


class Topology(msgspec.Struct, frozen=True, kw_only=True):
    root: str = "mnemo"

    @property
    def cmd_stream(self) -> str:
        return f"{self.root.upper()}_CMD"

    @property
    def evt_stream(self) -> str:
        return f"{self.root.upper()}_EVT"

    @property
    def ops_stream(self) -> str:
        return f"{self.root.upper()}_OPS"

    @property
    def dlq_stream(self) -> str:
        """Dead letters: a copy of each message a consumer gave up on, until replayed."""
        return f"{self.root.upper()}_DLQ"

    def dlq_dead_subject(self, consumer: str) -> str:
        return f"{self.root}.dlq.dead.{consumer}"

    def dlq_replay_subject(self, consumer: str) -> str:
        """Where a replayed dead letter waits for its consumer (and only that one)."""
        return f"{self.root}.dlq.replay.{consumer}"

    @property
    def dlq_dead_all(self) -> str:
        return f"{self.root}.dlq.dead.>"

    @property
    def dlq_all(self) -> str:
        return f"{self.root}.dlq.>"

    def cmd_subject(self, command: str, tenant: str) -> str:
        return f"{self.root}.cmd.{command}.{tenant}"

    def evt_subject(self, tenant: str, event_type: str) -> str:
        return f"{self.root}.evt.{tenant}.{event_type}"

    def ops_subject(self, tenant: str, signal_type: str) -> str:
        return f"{self.root}.ops.{tenant}.{signal_type}"

    def svc_subject(self, service: str, endpoint: str) -> str:
        """Request/reply endpoint of a query service (NATS micro, queue group per service)."""
        return f"{self.root}.svc.{service}.{endpoint}"

    @property
    def cmd_all(self) -> str:
        return f"{self.root}.cmd.>"

    @property
    def evt_all(self) -> str:
        return f"{self.root}.evt.>"

    @property
    def ops_all(self) -> str:
        return f"{self.root}.ops.>"

    @property
    def idempotency_bucket(self) -> str:
        """The gateway's kept answers (KV), keyed `<tenant_tag>.<credential>.<key>`."""
        return f"{self.root.upper()}_IDEMPOTENCY"

    def tenant_evt(self, tenant: str) -> str:
        return f"{self.root}.evt.{tenant}.>"

    def tenant_ops(self, tenant: str) -> str:
        return f"{self.root}.ops.{tenant}.>"
