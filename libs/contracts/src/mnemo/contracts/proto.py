"""Generate `proto/` (JSON Schemas and the AsyncAPI document) from the message contracts.

    python -m mnemo.contracts.proto write proto    # regenerate the folder
    python -m mnemo.contracts.proto check proto    # exit 1 if the folder has drifted

The output is deterministic (sorted keys, fixed order, trailing newline, no timestamps),
so `check` can compare byte for byte. Event and command types are discovered from
`EVENT_TYPES` and `COMMAND_TYPES`: adding a type there is enough to document it.

Two shapes of schema come out of the same msgspec description:

- `schemas/*.json` are standalone JSON Schema draft 2020-12 documents, one per contract;
- `asyncapi.json` holds the same structs under `components.schemas` as AsyncAPI Schema
  Objects (a superset of draft-07), so tuples are written with `items`/`additionalItems`
  and a tagged union's discriminator is just the tag's property name.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import msgspec

from mnemo.contracts.accounts import (
    AgentInfo,
    AgentPage,
    CreateAgent,
    CreateTenant,
    DeleteAgent,
    GetAgent,
    IssuedKey,
    IssueKey,
    KeyInfo,
    KeyList,
    ListAgents,
    ListKeys,
    NewTenant,
    RevokeKey,
    UpdateAgent,
)
from mnemo.contracts.chains import FactChains, FactChainsQuery
from mnemo.contracts.commands import COMMAND_TYPES
from mnemo.contracts.envelope import Envelope
from mnemo.contracts.events import EVENT_TYPES
from mnemo.contracts.headers import Headers
from mnemo.contracts.packs import PackQuery, PackView
from mnemo.contracts.queries import (
    AnswerQuery,
    AnswerResult,
    AuditQuery,
    AuditResult,
    ChangeFact,
    DeleteAgentMemories,
    DeletedMemories,
    DeletedMemory,
    DeleteMemory,
    DeleteScopeMemories,
    DropMemories,
    Dropped,
    EntitiesQuery,
    EntityGraph,
    FactChange,
    FactList,
    FactsQuery,
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
    SearchQuery,
    SearchResult,
)
from mnemo.contracts.revisions import (
    MemoryVersions,
    MemoryVersionsQuery,
    RevisedMemory,
    ReviseMemory,
)
from mnemo.contracts.scopes import ScopeList, ScopesQuery
from mnemo.contracts.signals import MEMORIES_INDEXED, SIGNAL_TYPES, MemoriesIndexed, Signal
from mnemo.contracts.subjects import Topology

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
SCHEMAS_DIR = "schemas"
ASYNCAPI_FILE = "asyncapi.json"

# Request/reply structs of the query services (explicit: they have no registry of their own).
QUERY_TYPES: tuple[type[msgspec.Struct], ...] = (
    SearchQuery,
    SearchResult,
    ListMemoriesQuery,
    MemoryPage,
    GetMemoryQuery,
    MemoryView,
    ForgetSubject,
    Dropped,
    ForgetResult,
    AnswerQuery,
    AnswerResult,
    DeleteMemory,
    DeletedMemory,
    DeleteAgentMemories,
    DeletedMemories,
    DeleteScopeMemories,
    DropMemories,
    ReviseMemory,
    RevisedMemory,
    MemoryVersionsQuery,
    MemoryVersions,
    ScopesQuery,
    ScopeList,
    ProfileQuery,
    Profile,
    EntitiesQuery,
    EntityGraph,
    FactsQuery,
    FactList,
    ChangeFact,
    FactChange,
    FactChainsQuery,
    FactChains,
    AuditQuery,
    AuditResult,
    HealthReport,
    QueryError,
    PackQuery,
    PackView,
    CreateTenant,
    NewTenant,
    IssueKey,
    IssuedKey,
    RevokeKey,
    KeyInfo,
    ListKeys,
    KeyList,
    CreateAgent,
    UpdateAgent,
    DeleteAgent,
    GetAgent,
    AgentInfo,
    ListAgents,
    AgentPage,
)


@dataclass(frozen=True)
class QueryEndpoint:
    """One request/reply endpoint, served at `Topology.svc_subject(service, endpoint)`."""

    service: str
    endpoint: str
    request: type[msgspec.Struct] | None  # None: any JSON object (usually `{}`)
    response: type[msgspec.Struct]
    summary: str


HEALTH_SERVICES = ("ingest", "synthesis", "retrieval", "audit")

QUERY_ENDPOINTS: tuple[QueryEndpoint, ...] = (
    QueryEndpoint(
        "retrieval", "search", SearchQuery, SearchResult, "Semantic search over a user's memories."
    ),
    QueryEndpoint(
        "retrieval", "memories", ListMemoriesQuery, MemoryPage, "A page of a user's memories."
    ),
    QueryEndpoint("retrieval", "memory", GetMemoryQuery, MemoryView, "One memory by its id."),
    QueryEndpoint(
        "synthesis", "profile", ProfileQuery, Profile, "A subject's static and dynamic facts."
    ),
    QueryEndpoint(
        "synthesis",
        "entities",
        EntitiesQuery,
        EntityGraph,
        "A subject's entities (people, organizations, tools, places) and relationships.",
    ),
    QueryEndpoint(
        "synthesis",
        "facts",
        FactsQuery,
        FactList,
        "A subject's facts: current, as of a time, or changed since one.",
    ),
    QueryEndpoint(
        "synthesis",
        "change_fact",
        ChangeFact,
        FactChange,
        "Validate, supersede or contradict a fact (appended as events with the caller as actor).",
    ),
    QueryEndpoint(
        "ingest", "forget", ForgetSubject, ForgetResult, "Forget a subject (crypto-shredding)."
    ),
    QueryEndpoint(
        "retrieval",
        "drop_subject",
        ForgetSubject,
        Dropped,
        "Drop a forgotten subject from the read model and index now (reads after the forget).",
    ),
    QueryEndpoint(
        "synthesis",
        "drop_subject",
        ForgetSubject,
        Dropped,
        "Drop a forgotten subject's facts and entities now (reads after the forget).",
    ),
    QueryEndpoint(
        "retrieval",
        "drop_memory",
        DeleteMemory,
        Dropped,
        "Drop a deleted memory from the read model and index now (reads after the delete).",
    ),
    QueryEndpoint(
        "ingest",
        "create_tenant",
        CreateTenant,
        NewTenant,
        "A tenant, its master key, maybe an agent.",
    ),
    QueryEndpoint("ingest", "issue_key", IssueKey, IssuedKey, "Issue an API key (shown once)."),
    QueryEndpoint("ingest", "revoke_key", RevokeKey, KeyInfo, "Revoke an API key everywhere."),
    QueryEndpoint("ingest", "list_keys", ListKeys, KeyList, "A tenant's API keys (no secrets)."),
    QueryEndpoint("ingest", "create_agent", CreateAgent, AgentInfo, "Register an agent."),
    QueryEndpoint("ingest", "update_agent", UpdateAgent, AgentInfo, "Change an agent."),
    QueryEndpoint(
        "ingest", "delete_agent", DeleteAgent, AgentInfo, "Remove an agent, revoke its keys."
    ),
    QueryEndpoint("ingest", "get_agent", GetAgent, AgentInfo, "One agent of a tenant."),
    QueryEndpoint("ingest", "list_agents", ListAgents, AgentPage, "A page of a tenant's agents."),
    QueryEndpoint("synthesis", "pack", PackQuery, PackView, "Compile (or find) a memory pack."),
    QueryEndpoint("ingest", "delete_memory", DeleteMemory, DeletedMemory, "Delete one memory."),
    QueryEndpoint(
        "ingest",
        "delete_agent_memories",
        DeleteAgentMemories,
        DeletedMemories,
        "Delete an agent's memories, found by a read model or in the log, a share at a time.",
    ),
    QueryEndpoint(
        "ingest",
        "delete_scope_memories",
        DeleteScopeMemories,
        DeletedMemories,
        "Delete the memories of a user, agent or session (and metadata) the log holds.",
    ),
    QueryEndpoint(
        "retrieval",
        "drop_memories",
        DropMemories,
        Dropped,
        "Drop deleted memories from the read model and index now (reads after the delete).",
    ),
    QueryEndpoint(
        "ingest",
        "revise_memory",
        ReviseMemory,
        RevisedMemory,
        "Replace a memory with a new version (both kept in the log, linked).",
    ),
    QueryEndpoint(
        "ingest",
        "memory_versions",
        MemoryVersionsQuery,
        MemoryVersions,
        "Every version of a memory, read from the log.",
    ),
    QueryEndpoint(
        "synthesis",
        "fact_chains",
        FactChainsQuery,
        FactChains,
        "Facts with the facts that superseded them, first to current.",
    ),
    QueryEndpoint(
        "retrieval",
        "scopes",
        ScopesQuery,
        ScopeList,
        "The users, agents and sessions that hold memories, with counts.",
    ),
    QueryEndpoint(
        "synthesis", "answer", AnswerQuery, AnswerResult, "Answer from given passages (LLM)."
    ),
    QueryEndpoint(
        "audit", "events", AuditQuery, AuditResult, "Every audited step of one correlation id."
    ),
    *(
        QueryEndpoint(
            service, "health", None, HealthReport, f"The {service} service's dependency checks."
        )
        for service in HEALTH_SERVICES
    ),
)

# Query headers are defined next to the query client in mnemo.bus.queries, which this
# library cannot import; keep these two names in step with it.
QUERY_REQUEST_ID_HEADER = Headers.REQUEST_ID
QUERY_REPLY_HEADER = Headers.REPLY

_HEADER_DOCS: dict[str, str] = {
    "MSG_ID": (
        "Id of the message (command_id, event_id or signal_id). JetStream drops a second "
        "publish with the same id inside the stream's duplicate window."
    ),
    "CORRELATION": "Id shared by every message caused, directly or not, by one request.",
    "CAUSATION": "Id of the message (or HTTP request) that directly caused this one.",
    "TENANT": "Tenant that owns the message; also a token of the subject.",
    "TYPE": "Command name, event type or signal type of the payload.",
    "SERVICE": "Service that produced the message.",
    "TRACEPARENT": "W3C trace context: the producer's span, continued by the consumer.",
    "TRACESTATE": "W3C vendor trace state: never set by Mnemo (a caller's is not carried).",
    "DEAD_SUBJECT": "On a dead letter: the subject the message was first published to.",
    "DEAD_STREAM": "On a dead letter: the stream it came from.",
    "DEAD_SEQUENCE": "On a dead letter: its sequence in that stream.",
    "DEAD_CONSUMER": "On a dead letter: the durable consumer that gave up on it.",
    "DEAD_REASON": "On a dead letter: why (the exception's type and first line).",
    "DEAD_DELIVERIES": "On a dead letter: how often it had been delivered.",
    "DEAD_AT": "On a dead letter: when it was dead-lettered (ISO 8601, UTC).",
    "DEAD_MSG_ID": "On a dead letter: the original Nats-Msg-Id (the entry has its own).",
    "SUBJECT": "On a message about one user: a digest of tenant and user (a forget erases by it).",
    "BUDGET": "On a query request: how long the asker waits, in milliseconds.",
    "APPEND_REST": (
        "On an event: how many events of each subject follow it in the same append to the "
        "log, as 'subject=count' words; absent on an append's last event."
    ),
}
# Dead letters (the DLQ stream) carry the DEAD_* headers beside the usual ones.
_DEAD_HEADERS = {attr for attr in vars(Headers) if attr.startswith("DEAD_")}
# Not on every message: on some kinds, or (TRACEPARENT) when there is a trace.
_OPTIONAL_HEADERS = {
    "TRACEPARENT",
    "TRACESTATE",
    "SUBJECT",
    "BUDGET",
    "APPEND_REST",
    *_DEAD_HEADERS,
}
# Carried by query requests and replies only, never by JetStream messages.
_QUERY_ONLY_HEADERS = {"REQUEST_ID", "REPLY"}
_TRACEPARENT_PATTERN = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


# --------------------------------------------------------------------------- naming


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _tag(cls: type[msgspec.Struct]) -> str:
    tag = cls.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{cls.__qualname__} has no string tag")
    return tag


def schema_files() -> dict[str, type[msgspec.Struct]]:
    """File name (under schemas/) -> contract, in a stable order."""
    files: dict[str, type[msgspec.Struct]] = {"envelope.json": Envelope}
    for event_type, event_cls in sorted(EVENT_TYPES.items()):
        files[f"event.{event_type}.json"] = event_cls
    for command, command_cls in sorted(COMMAND_TYPES.items()):
        files[f"command.{command}.json"] = command_cls
    files["signal.json"] = Signal
    # The one signal whose data has a contract of its own.
    files[f"signal.{MEMORIES_INDEXED}.data.json"] = MemoriesIndexed
    for query_cls in QUERY_TYPES:
        files[f"query.{_snake(query_cls.__name__)}.json"] = query_cls
    return files


# --------------------------------------------------------------------------- JSON Schema


def json_schema(cls: type[msgspec.Struct]) -> dict[str, Any]:
    """A standalone draft 2020-12 schema for one contract, nested structs under $defs."""
    (root,), defs = msgspec.json.schema_components([cls], ref_template="#/$defs/{name}")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$comment": (
            f"Generated from {cls.__module__}.{cls.__qualname__} by mnemo.contracts.proto; "
            "do not edit."
        ),
        **root,
        "$defs": defs,
    }


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def _to_asyncapi_schema(node: Any) -> Any:
    """Rewrite one of msgspec's draft 2020-12 schemas into an AsyncAPI 3.0 Schema Object."""
    if isinstance(node, list):
        return [_to_asyncapi_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            # name -> schema: the names are field names, never keywords to rewrite
            out[key] = {name: _to_asyncapi_schema(sub) for name, sub in value.items()}
        elif key in ("enum", "const", "default", "examples", "required"):
            out[key] = value  # values, not schemas
        else:
            out[key] = _to_asyncapi_schema(value)
    discriminator = out.get("discriminator")
    if isinstance(discriminator, dict):
        # AsyncAPI: the discriminator is the tag's property name; each variant names its
        # own tag value in an `enum` on that property.
        out["discriminator"] = discriminator["propertyName"]
    if "prefixItems" in out:
        # draft-07 tuples: `items` as a list, `additionalItems` for what may follow.
        rest = out.pop("items", True)
        out["items"] = out.pop("prefixItems")
        if rest is not True:
            out["additionalItems"] = rest
    return out


# --------------------------------------------------------------------------- AsyncAPI


def _ref(*parts: str) -> dict[str, str]:
    escaped = (part.replace("~", "~0").replace("/", "~1") for part in parts)
    return {"$ref": "#/" + "/".join(escaped)}


def _header_names() -> list[tuple[str, str]]:
    """(attribute, header name) for every header in `Headers`, in definition order."""
    return [
        (attr, value)
        for attr, value in vars(Headers).items()
        if attr.isupper() and isinstance(value, str) and attr not in _QUERY_ONLY_HEADERS
    ]


def _header_schema(attr: str) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "string",
        "description": _HEADER_DOCS.get(attr, f"See mnemo.contracts.headers.Headers.{attr}."),
    }
    if attr == "TRACEPARENT":
        schema["pattern"] = _TRACEPARENT_PATTERN
    return schema


def _message_traits() -> dict[str, Any]:
    headers = _header_names()
    by_attr = dict(headers)
    bus_headers = {
        "type": "object",
        "properties": {name: _header_schema(attr) for attr, name in headers},
        "required": [name for attr, name in headers if attr not in _OPTIONAL_HEADERS],
    }
    request_attrs = ("CORRELATION", "TENANT", "TRACEPARENT", "TRACESTATE")
    request_props = {by_attr[a]: _header_schema(a) for a in request_attrs if a in by_attr}
    request_props[QUERY_REQUEST_ID_HEADER] = {
        "type": "string",
        "description": "The gateway's x-request-id of the HTTP call that asked.",
    }
    correlation = {
        "description": "Every message of one request's chain carries the same id.",
        "location": f"$message.header#/{Headers.CORRELATION}",
    }
    return {
        "busHeaders": {
            "summary": "Headers on every command, event and signal published to JetStream.",
            "contentType": "application/json",
            "headers": bus_headers,
            "correlationId": correlation,
        },
        "queryRequestHeaders": {
            "summary": "Headers on a request to a query service.",
            "contentType": "application/json",
            "headers": {"type": "object", "properties": request_props},
            "correlationId": correlation,
        },
        "queryReplyHeaders": {
            "summary": "Headers on a query service's reply.",
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    QUERY_REPLY_HEADER: {
                        "type": "string",
                        "enum": ["ok", "error"],
                        "description": "`ok`: the payload is the answer; `error`: a QueryError.",
                    }
                },
                "required": [QUERY_REPLY_HEADER],
            },
        },
    }


def _described_parameter(description: str, values: Iterable[str]) -> dict[str, Any]:
    return {"description": description, "enum": sorted(values)}


def _jetstream(stream: str, subjects: str, retention: str) -> dict[str, Any]:
    return {"stream": stream, "subjects": [subjects], "retention": retention}


def asyncapi_document(topology: Topology | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 description of every subject on the bus."""
    topo = topology or Topology()
    structs: list[type[msgspec.Struct]] = [Envelope, *schema_files().values()]
    unique = list(dict.fromkeys(structs))
    _, raw_components = msgspec.json.schema_components(
        unique, ref_template="#/components/schemas/{name}"
    )
    schemas: dict[str, Any] = {
        name: _to_asyncapi_schema(schema) for name, schema in raw_components.items()
    }

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    bus_trait = [_ref("components", "messageTraits", "busHeaders")]
    request_trait = [_ref("components", "messageTraits", "queryRequestHeaders")]
    reply_trait = [_ref("components", "messageTraits", "queryReplyHeaders")]
    tenant_param = {"description": "Tenant id: every subject is scoped to one tenant."}

    # Commands -----------------------------------------------------------------------
    command_msgs: dict[str, Any] = {}
    for command, command_cls in sorted(COMMAND_TYPES.items()):
        msg_id = f"command.{command}"
        messages[msg_id] = {
            "name": command_cls.__name__,
            "title": f"Command {command}",
            "summary": (command_cls.__doc__ or "").strip() or f"The {command} command.",
            "payload": _ref("components", "schemas", command_cls.__name__),
            "traits": bus_trait,
        }
        command_msgs[command] = _ref("components", "messages", msg_id)
    channels["commands"] = {
        "address": topo.cmd_subject("{command}", "{tenant}"),
        "title": "Commands",
        "description": (
            f"Requests for a change, published by the gateway to stream {topo.cmd_stream}. "
            "Each command kind is consumed by one shared durable consumer (work-queue "
            "semantics: replicas share the work); the audit reads every command too."
        ),
        "parameters": {
            "command": _described_parameter("Command name (its type tag).", COMMAND_TYPES),
            "tenant": tenant_param,
        },
        "messages": command_msgs,
        "x-jetstream": _jetstream(topo.cmd_stream, topo.cmd_all, "limits"),
    }

    # Events -------------------------------------------------------------------------
    event_msgs: dict[str, Any] = {}
    for event_type, event_cls in sorted(EVENT_TYPES.items()):
        envelope_name = f"{event_cls.__name__}Envelope"
        schemas[envelope_name] = {
            "title": envelope_name,
            "description": f"An Envelope whose data is a {event_cls.__name__} ({event_type}).",
            "allOf": [
                _ref("components", "schemas", Envelope.__name__),
                {
                    "type": "object",
                    "properties": {
                        "event_type": {"const": event_type},
                        "data": _ref("components", "schemas", event_cls.__name__),
                    },
                },
            ],
        }
        msg_id = f"event.{event_type}"
        messages[msg_id] = {
            "name": event_cls.__name__,
            "title": f"Event {event_type}",
            "summary": (event_cls.__doc__ or "").strip() or f"The {event_type} event.",
            "payload": _ref("components", "schemas", envelope_name),
            "traits": bus_trait,
        }
        event_msgs[event_type] = _ref("components", "messages", msg_id)
    channels["events"] = {
        "address": topo.evt_subject("{tenant}", "{event_type}"),
        "title": "Domain events",
        "description": (
            f"Stored events, published in log order by the outbox relay to stream "
            f"{topo.evt_stream} with Nats-Msg-Id = event_id. The Postgres log is the truth; "
            "the stream is how projections hear about it."
        ),
        "parameters": {
            "tenant": tenant_param,
            "event_type": _described_parameter("Event type (the data's tag).", EVENT_TYPES),
        },
        "messages": event_msgs,
        "x-jetstream": _jetstream(topo.evt_stream, topo.evt_all, "limits"),
    }

    # Operational signals ------------------------------------------------------------
    messages["signal"] = {
        "name": Signal.__name__,
        "title": "Operational signal",
        "summary": (Signal.__doc__ or "").strip(),
        "payload": _ref("components", "schemas", Signal.__name__),
        "traits": bus_trait,
    }
    signal_doc = "; ".join(f"`{name}`: {text}" for name, text in sorted(SIGNAL_TYPES.items()))
    channels["signals"] = {
        "address": topo.ops_subject("{tenant}", "{signal_type}"),
        "title": "Operational signals",
        "description": (
            f"What services did that is not a domain event, for the audit. {signal_doc}."
        ),
        "parameters": {
            "tenant": tenant_param,
            "signal_type": _described_parameter("Signal type.", SIGNAL_TYPES),
        },
        "messages": {"signal": _ref("components", "messages", "signal")},
        "x-jetstream": _jetstream(topo.ops_stream, topo.ops_all, "limits"),
    }

    operations["sendCommands"] = {
        "action": "send",
        "channel": _ref("channels", "commands"),
        "summary": "The gateway publishes commands (JetStream acknowledges each one).",
        "messages": [_ref("channels", "commands", "messages", c) for c in command_msgs],
    }
    operations["receiveCommands"] = {
        "action": "receive",
        "channel": _ref("channels", "commands"),
        "summary": "Ingest handles commands; the audit records them.",
        "messages": [_ref("channels", "commands", "messages", c) for c in command_msgs],
    }
    operations["sendEvents"] = {
        "action": "send",
        "channel": _ref("channels", "events"),
        "summary": "The outbox relay publishes every stored event, in log order.",
        "messages": [_ref("channels", "events", "messages", e) for e in event_msgs],
    }
    operations["receiveEvents"] = {
        "action": "receive",
        "channel": _ref("channels", "events"),
        "summary": "Synthesis, retrieval, the audit and the gateway's SSE follow events.",
        "messages": [_ref("channels", "events", "messages", e) for e in event_msgs],
    }
    operations["sendSignals"] = {
        "action": "send",
        "channel": _ref("channels", "signals"),
        "summary": "Every service reports its operational steps.",
        "messages": [_ref("channels", "signals", "messages", "signal")],
    }
    operations["receiveSignals"] = {
        "action": "receive",
        "channel": _ref("channels", "signals"),
        "summary": "The audit indexes signals by correlation id.",
        "messages": [_ref("channels", "signals", "messages", "signal")],
    }

    # Query services (request/reply, NATS micro, one queue group per service) ---------
    messages["query.error"] = {
        "name": QueryError.__name__,
        "title": "Query error",
        "summary": (QueryError.__doc__ or "").strip(),
        "payload": _ref("components", "schemas", QueryError.__name__),
        "traits": reply_trait,
    }
    for ep in QUERY_ENDPOINTS:
        key = f"{ep.service}.{ep.endpoint}"
        request_id = f"query.{key}.request"
        reply_id = f"query.{key}.reply"
        request_payload: dict[str, Any] = (
            _ref("components", "schemas", ep.request.__name__)
            if ep.request is not None
            else {"type": "object", "description": "Any JSON object; send `{}`."}
        )
        messages[request_id] = {
            "name": ep.request.__name__ if ep.request is not None else "EmptyRequest",
            "title": f"{key} request",
            "summary": ep.summary,
            "payload": request_payload,
            "traits": request_trait,
        }
        messages[reply_id] = {
            "name": ep.response.__name__,
            "title": f"{key} reply",
            "summary": (ep.response.__doc__ or "").strip() or f"The answer of {key}.",
            "payload": _ref("components", "schemas", ep.response.__name__),
            "traits": reply_trait,
        }
        request_channel = f"svc.{key}"
        reply_channel = f"svc.{key}.reply"
        channels[request_channel] = {
            "address": topo.svc_subject(ep.service, ep.endpoint),
            "title": f"{key} requests",
            "description": (
                f"{ep.summary} Served by every {ep.service} replica in queue group "
                f"`{topo.root}-{ep.service}`."
            ),
            "messages": {"request": _ref("components", "messages", request_id)},
        }
        channels[reply_channel] = {
            "address": None,
            "title": f"{key} replies",
            "description": "The requester's inbox subject (NATS reply-to), known at run time.",
            "messages": {
                "reply": _ref("components", "messages", reply_id),
                "error": _ref("components", "messages", "query.error"),
            },
        }
        operations[key] = {
            "action": "receive",
            "channel": _ref("channels", request_channel),
            "summary": ep.summary,
            "messages": [_ref("channels", request_channel, "messages", "request")],
            "reply": {
                "channel": _ref("channels", reply_channel),
                "messages": [
                    _ref("channels", reply_channel, "messages", "reply"),
                    _ref("channels", reply_channel, "messages", "error"),
                ],
            },
            "bindings": {"nats": {"queue": f"{topo.root}-{ep.service}", "bindingVersion": "0.1.0"}},
        }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Mnemo message bus",
            "version": version("mnemo-contracts"),
            "description": (
                "Commands, domain events, operational signals and query endpoints exchanged "
                "by the Mnemo services over NATS JetStream. Generated from mnemo.contracts by "
                "`make proto`; do not edit."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "localhost:4222",
                "protocol": "nats",
                "description": "NATS with JetStream, as started by `make run`.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "messageTraits": _message_traits(),
        },
    }


# --------------------------------------------------------------------------- files


def _dump(document: Any) -> bytes:
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def render(topology: Topology | None = None) -> dict[str, bytes]:
    """Every generated file: path relative to the proto folder -> exact bytes."""
    files = {
        f"{SCHEMAS_DIR}/{name}": _dump(json_schema(cls)) for name, cls in schema_files().items()
    }
    files[ASYNCAPI_FILE] = _dump(asyncapi_document(topology))
    return dict(sorted(files.items()))


def _managed_on_disk(root: Path) -> set[str]:
    """Files under `root` that the generator owns: asyncapi.json and all of schemas/."""
    found: set[str] = set()
    if (root / ASYNCAPI_FILE).is_file():
        found.add(ASYNCAPI_FILE)
    schemas = root / SCHEMAS_DIR
    if schemas.is_dir():
        found.update(p.relative_to(root).as_posix() for p in schemas.rglob("*") if p.is_file())
    return found


def check(root: Path | str) -> list[str]:
    """Drift between `root` and the code, one line per file; empty when identical."""
    root = Path(root)
    expected = render()
    drift: list[str] = []
    for rel, content in expected.items():
        path = root / rel
        if not path.is_file():
            drift.append(f"missing: {path}")
        elif path.read_bytes() != content:
            drift.append(f"changed: {path}")
    for rel in sorted(_managed_on_disk(root) - expected.keys()):
        drift.append(f"extra: {root / rel}")
    return drift


def write(root: Path | str) -> list[str]:
    """Bring `root` up to date; return what was written or removed."""
    root = Path(root)
    expected = render()
    done: list[str] = []
    for rel, content in expected.items():
        path = root / rel
        if path.is_file() and path.read_bytes() == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        done.append(f"wrote: {path}")
    for rel in sorted(_managed_on_disk(root) - expected.keys()):
        (root / rel).unlink()
        done.append(f"removed: {root / rel}")
    return done


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mnemo.contracts.proto",
        description="Generate or check JSON Schemas and the AsyncAPI document.",
    )
    parser.add_argument("action", choices=("write", "check"))
    parser.add_argument("root", nargs="?", default="proto", help="the proto folder")
    args = parser.parse_args(argv)
    root = Path(args.root)
    if args.action == "write":
        changes = write(root)
        for line in changes:
            print(line)
        print(f"{root}: {len(render())} generated files, {len(changes)} changed")
        return 0
    drift = check(root)
    if drift:
        print(f"{root} has drifted from mnemo.contracts:", file=sys.stderr)
        for line in drift:
            print(f"  {line}", file=sys.stderr)
        print("run `make proto` and commit the result", file=sys.stderr)
        return 1
    print(f"{root}: up to date ({len(render())} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
