"""Mnemo message contracts: the one definition of every event, command, signal and query.

Exports the envelope, the event data types, the ingest command, operational signals,
query messages, subject/stream naming and deterministic id helpers.
"""

from mnemo.contracts.commands import COMMAND_TYPES, Command, IngestMemory
from mnemo.contracts.envelope import Envelope, NewEvent
from mnemo.contracts.events import (
    EVENT_TYPES,
    ChunkSpan,
    EventData,
    ExtractedFact,
    FactExtracted,
    MemoryForgotten,
    MemoryRecorded,
    MemorySynthesized,
    SubjectSynthesized,
)
from mnemo.contracts.headers import Headers
from mnemo.contracts.ids import derived_id, new_id
from mnemo.contracts.queries import (
    AuditEntry,
    AuditQuery,
    AuditResult,
    ForgetResult,
    ForgetSubject,
    GetMemoryQuery,
    HealthReport,
    ListMemoriesQuery,
    MemoryPage,
    MemoryView,
    Profile,
    ProfileQuery,
    QueryError,
    SearchHit,
    SearchQuery,
    SearchResult,
)
from mnemo.contracts.signals import SIGNAL_TYPES, Signal
from mnemo.contracts.subjects import Topology
from mnemo.contracts.time import utcnow

__all__ = [
    "COMMAND_TYPES",
    "EVENT_TYPES",
    "SIGNAL_TYPES",
    "AuditEntry",
    "AuditQuery",
    "AuditResult",
    "ChunkSpan",
    "Command",
    "Envelope",
    "EventData",
    "ExtractedFact",
    "FactExtracted",
    "ForgetResult",
    "ForgetSubject",
    "GetMemoryQuery",
    "Headers",
    "HealthReport",
    "IngestMemory",
    "ListMemoriesQuery",
    "MemoryForgotten",
    "MemoryPage",
    "MemoryRecorded",
    "MemorySynthesized",
    "MemoryView",
    "NewEvent",
    "Profile",
    "ProfileQuery",
    "QueryError",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "Signal",
    "SubjectSynthesized",
    "Topology",
    "derived_id",
    "new_id",
    "utcnow",
]
