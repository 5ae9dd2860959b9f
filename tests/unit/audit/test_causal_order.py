"""An audit chain lists causes before effects, whatever order the entries arrived in."""

from datetime import UTC, datetime, timedelta

from mnemo.audit.entries import causal_order
from mnemo.contracts import AuditEntry

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def entry(message_id: str, cause: str | None, seconds: float) -> AuditEntry:
    return AuditEntry(
        message_id=message_id,
        kind="event",
        type=message_id,
        service="s",
        timestamp=T0 + timedelta(seconds=seconds),
        correlation_id="c",
        causation_id=cause,
        subject="x",
        recorded_by="audit",
        audited_at=T0,
    )


def test_causes_come_first_even_when_clocks_disagree():
    # The indexer's clock is behind: its signal is stamped before the memory it indexed.
    entries = [
        entry("indexed", "recorded", 0.5),
        entry("recorded", "command", 1.0),
        entry("request", None, 0.9),
        entry("command", "request", 0.95),
        entry("synthesized", "recorded", 2.0),
    ]
    assert [e.message_id for e in causal_order(entries)] == [
        "request",
        "command",
        "recorded",
        "indexed",
        "synthesized",
    ]


def test_entries_whose_cause_is_not_in_the_chain_are_roots_by_time():
    entries = [entry("b", "elsewhere", 2), entry("a", "elsewhere", 1)]
    assert [e.message_id for e in causal_order(entries)] == ["a", "b"]
