"""The MCP tools: each one native route of the public API, its arguments a typed Struct.

Where the route decodes its JSON body into a Struct (ingest, search, supersede,
contradict), the tool's arguments are that Struct, subclassed only to refuse unknown
names and to add what goes in the path or a header: the input schema a client sees is
generated from the same definition the route decodes with, so the two cannot drift.
Routes that read query parameters have their arguments written here, one field a
parameter; the route still checks every value (limits, times, ids) and names the field.
"""

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from mnemo.contracts import PRESETS
from mnemo.gateway.idempotency import IDEMPOTENCY_KEY as IDEMPOTENCY_KEY_RULE
from mnemo.gateway.idempotency import IDEMPOTENCY_KEY_PATTERN
from mnemo.gateway.routes.facts import ContradictRequest, SupersedeRequest
from mnemo.gateway.routes.ingest import IngestRequest
from mnemo.gateway.routes.search import SearchRequest

# Written beside the arguments of every tool that changes something: the route's
# Idempotency-Key, so a retried call is answered once (README, Idempotency-Key).
IDEMPOTENCY_KEY = "idempotencyKey"
# The pattern is in the schema only, for clients to read: msgspec searches with it, and its
# "$" lets a trailing newline through, so request_of checks a header with fullmatch itself.
IdempotencyKey = Annotated[
    str,
    msgspec.Meta(
        description="Sent as the route's Idempotency-Key: 1-255 printable ASCII characters",
        extra_json_schema={"pattern": IDEMPOTENCY_KEY_PATTERN, "maxLength": 255},
    ),
]


@dataclass(frozen=True)
class HeaderArgument:
    """An argument sent as an HTTP header, not in the body or query: checked before the
    call against what the header may hold, since a header cannot carry every string."""

    header: str
    rule: re.Pattern[str]
    expected: str


HEADER_ARGUMENTS = {
    IDEMPOTENCY_KEY: HeaderArgument(
        "Idempotency-Key",
        IDEMPOTENCY_KEY_RULE,
        "1-255 printable ASCII characters (no line breaks), not starting or ending with a space",
    ),
}

Preset = Literal[PRESETS]  # type: ignore[valid-type]


class RememberArgs(IngestRequest, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/ingest's body."""

    idempotency_key: IdempotencyKey | None = None


class SearchArgs(SearchRequest, forbid_unknown_fields=True):
    """POST /v1/search's body."""


class ContextArgs(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """GET /v1/context's parameters; times are ISO 8601 with a zone, a day or a month."""

    user_id: str
    q: str | None = None
    limit: int | None = None
    as_of: str | None = None
    as_of_knowledge: str | None = None
    about: str | None = None
    agent_id: str | None = None


class FactsArgs(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """GET /v1/facts's parameters."""

    user_id: str
    agent_id: str | None = None
    about: str | None = None
    as_of: str | None = None
    as_of_knowledge: str | None = None
    changed_since: str | None = None


class ValidateArgs(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    fact_id: str
    idempotency_key: IdempotencyKey | None = None


class SupersedeArgs(SupersedeRequest, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/facts/{factId}/supersede's body, and the fact."""

    fact_id: str
    idempotency_key: IdempotencyKey | None = None


class ContradictArgs(ContradictRequest, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/facts/{factId}/contradict's body, and the fact."""

    fact_id: str
    idempotency_key: IdempotencyKey | None = None


class ForgetArgs(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    user_id: str
    idempotency_key: IdempotencyKey | None = None


class PackArgs(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """GET /v1/agents/{agentId}/packs/latest's parameters."""

    agent_id: str
    user_id: str | None = None
    query: str | None = None
    preset: Preset | None = None
    max_tokens: int | None = None
    about: str | None = None


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args: type[msgspec.Struct]
    method: str
    path: str  # "{name}" parts are taken from the arguments (camelCase names)
    body: bool  # the other arguments: the JSON body (True) or query parameters
    # What a client may tell its user before calling (MCP tool annotations): a read
    # changes nothing; a destructive call cannot be undone.
    read_only: bool = False
    destructive: bool = False

    def input_schema(self) -> dict[str, Any]:
        """The arguments' JSON Schema, as msgspec generates it from the Struct: an object
        at the top (as MCP requires), any nested Struct under its `$defs`."""
        (ref,), defs = msgspec.json.schema_components([self.args], ref_template="#/$defs/{name}")
        schema = dict(defs.pop(ref["$ref"].rsplit("/", 1)[-1]))
        if defs:
            schema["$defs"] = defs
        return schema


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "remember",
        "Remember something a user said or did (POST /v1/ingest): userId and content, "
        "optionally sourceType, sourceId (makes it idempotent), sessionId, agentId and "
        "metadata (metadata.timestamp: when it happened). Processed asynchronously: search "
        "finds it a moment later.",
        RememberArgs,
        "POST",
        "/v1/ingest",
        body=True,
    ),
    ToolSpec(
        "search",
        "Search a user's memories (POST /v1/search): userId and query; searchMode hybrid "
        "(default), vector or keyword; limit up to 50; filters by sourceType, sessionId, "
        "agentId, asOf, asOfKnowledge.",
        SearchArgs,
        "POST",
        "/v1/search",
        body=True,
        read_only=True,
    ),
    ToolSpec(
        "get_context",
        "What is known about a user (GET /v1/context): their facts (static and dynamic) "
        "and, with q, the most relevant memories; asOf / asOfKnowledge for a past view, "
        "about for one person of the conversation.",
        ContextArgs,
        "GET",
        "/v1/context",
        body=False,
        read_only=True,
    ),
    ToolSpec(
        "list_facts",
        "The facts synthesized about a user (GET /v1/facts), with ids, valid time, status "
        "and evidence; asOf, asOfKnowledge, changedSince, about.",
        FactsArgs,
        "GET",
        "/v1/facts",
        body=False,
        read_only=True,
    ),
    ToolSpec(
        "validate_fact",
        "Confirm a fact (POST /v1/facts/{factId}/validate): its confidence becomes 1.0.",
        ValidateArgs,
        "POST",
        "/v1/facts/{factId}/validate",
        body=True,
    ),
    ToolSpec(
        "supersede_fact",
        "Replace a fact with new content (POST /v1/facts/{factId}/supersede): the old one "
        "ends at validFrom (default now), a new one of the same attribute starts.",
        SupersedeArgs,
        "POST",
        "/v1/facts/{factId}/supersede",
        body=True,
    ),
    ToolSpec(
        "contradict_fact",
        "Flag a fact as contradicted (POST /v1/facts/{factId}/contradict), optionally "
        "stating the contradicting content and a reason; both are kept.",
        ContradictArgs,
        "POST",
        "/v1/facts/{factId}/contradict",
        body=True,
    ),
    ToolSpec(
        "forget_user",
        "Forget everything of a user (DELETE /v1/user): their content becomes unreadable "
        "at once and is erased within seconds. Needs a master key.",
        ForgetArgs,
        "DELETE",
        "/v1/user",
        body=False,
        destructive=True,
    ),
    ToolSpec(
        "read_memory_pack",
        "The memory pack an agent should know now (GET /v1/agents/{agentId}/packs/latest): "
        "identity, session, knowledge, long-term memories and temporal context within "
        "maxTokens; content.context is a ready prompt. preset conversational or "
        "self_determined; query picks the long-term memories.",
        PackArgs,
        "GET",
        "/v1/agents/{agentId}/packs/latest",
        body=False,
    ),
)

BY_NAME = {tool.name: tool for tool in TOOLS}
