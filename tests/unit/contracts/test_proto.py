"""proto/ is generated from the contracts: it must match them, and describe every message."""

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mnemo.contracts import (
    COMMAND_TYPES,
    EVENT_TYPES,
    SIGNAL_TYPES,
    Envelope,
    ExtractedFact,
    FactExtracted,
    Headers,
    IngestMemory,
    MemoryRecorded,
    Signal,
    Topology,
    derived_id,
)
from mnemo.contracts.proto import (
    QUERY_TYPES,
    asyncapi_document,
    check,
    main,
    render,
    schema_files,
    write,
)

REPO = Path(__file__).resolve().parents[3]
PROTO = REPO / "proto"
HAVE_JSONSCHEMA = importlib.util.find_spec("jsonschema") is not None


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    return json.loads((PROTO / "asyncapi.json").read_text(encoding="utf-8"))


def _schema(name: str) -> dict[str, Any]:
    return json.loads((PROTO / "schemas" / name).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- drift


def test_committed_proto_matches_the_contracts() -> None:
    drift = check(PROTO)
    assert drift == [], "proto/ has drifted from mnemo.contracts; run `make proto`:\n" + "\n".join(
        drift
    )


def test_generation_is_deterministic_and_canonical() -> None:
    first, second = render(), render()
    assert first == second
    for rel, content in first.items():
        assert content.endswith(b"\n") and not content.endswith(b"\n\n"), rel
        parsed = json.loads(content)
        canonical = json.dumps(parsed, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        assert content.decode("utf-8") == canonical, rel


def test_check_reports_missing_changed_and_extra_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "proto"
    assert check(root) and all(line.startswith("missing:") for line in check(root))

    write(root)
    (root / "README.md").write_text("hand-written, not managed\n")
    assert check(root) == []
    assert main(["check", str(root)]) == 0

    changed = root / "schemas" / "envelope.json"
    changed.write_text(changed.read_text().replace("event_id", "event_uuid"))
    (root / "schemas" / "event.memory.recorded.json").unlink()
    (root / "schemas" / "event.no.such.type.json").write_text("{}\n")
    drift = check(root)
    assert f"changed: {changed}" in drift
    assert f"missing: {root / 'schemas' / 'event.memory.recorded.json'}" in drift
    assert f"extra: {root / 'schemas' / 'event.no.such.type.json'}" in drift
    assert len(drift) == 3

    capsys.readouterr()
    assert main(["check", str(root)]) == 1
    err = capsys.readouterr().err
    assert "envelope.json" in err and "event.no.such.type.json" in err
    assert "run `make proto`" in err

    assert main(["write", str(root)]) == 0
    assert check(root) == []
    assert not (root / "schemas" / "event.no.such.type.json").exists()
    assert (root / "README.md").exists()


# --------------------------------------------------------------------------- coverage


def test_every_contract_has_a_schema_file() -> None:
    files = {p.name for p in (PROTO / "schemas").glob("*.json")}
    for event_type in EVENT_TYPES:
        assert f"event.{event_type}.json" in files
    for command in COMMAND_TYPES:
        assert f"command.{command}.json" in files
    assert {"envelope.json", "signal.json"} <= files
    assert set(QUERY_TYPES) <= set(schema_files().values())
    assert len([f for f in files if f.startswith("query.")]) == len(QUERY_TYPES)


def test_every_event_type_has_an_asyncapi_message(asyncapi: dict[str, Any]) -> None:
    events = asyncapi["channels"]["events"]
    assert events["address"] == "mnemo.evt.{tenant}.{event_type}"
    assert events["x-jetstream"]["stream"] == "MNEMO_EVT"
    assert sorted(events["parameters"]["event_type"]["enum"]) == sorted(EVENT_TYPES)
    for event_type, cls in EVENT_TYPES.items():
        msg_id = f"event.{event_type}"
        assert events["messages"][event_type] == {"$ref": f"#/components/messages/{msg_id}"}
        message = asyncapi["components"]["messages"][msg_id]
        payload = _resolve(asyncapi, message["payload"])
        envelope_ref, narrowing = payload["allOf"]
        assert envelope_ref == {"$ref": "#/components/schemas/Envelope"}
        assert narrowing["properties"]["event_type"] == {"const": event_type}
        assert narrowing["properties"]["data"] == {"$ref": f"#/components/schemas/{cls.__name__}"}
        sent = asyncapi["operations"]["sendEvents"]["messages"]
        assert {"$ref": f"#/channels/events/messages/{event_type}"} in sent


def test_commands_and_signals_channels(asyncapi: dict[str, Any]) -> None:
    commands = asyncapi["channels"]["commands"]
    assert commands["address"] == "mnemo.cmd.{command}.{tenant}"
    assert commands["x-jetstream"]["stream"] == "MNEMO_CMD"
    assert set(commands["messages"]) == set(COMMAND_TYPES)
    for command in COMMAND_TYPES:
        assert f"command.{command}" in asyncapi["components"]["messages"]
    signals = asyncapi["channels"]["signals"]
    assert signals["address"] == "mnemo.ops.{tenant}.{signal_type}"
    assert signals["x-jetstream"]["stream"] == "MNEMO_OPS"
    assert sorted(signals["parameters"]["signal_type"]["enum"]) == sorted(SIGNAL_TYPES)


def test_query_endpoints(asyncapi: dict[str, Any]) -> None:
    topology = Topology()
    expected = {
        ("retrieval", "search"): ("SearchQuery", "SearchResult"),
        ("audit", "events"): ("AuditQuery", "AuditResult"),
        **{
            (s, "health"): (None, "HealthReport")
            for s in ("ingest", "synthesis", "retrieval", "audit")
        },
    }
    for (service, endpoint), (request, response) in expected.items():
        key = f"{service}.{endpoint}"
        channel = asyncapi["channels"][f"svc.{key}"]
        assert channel["address"] == topology.svc_subject(service, endpoint)
        op = asyncapi["operations"][key]
        assert op["bindings"]["nats"]["queue"] == f"mnemo-{service}"
        req = _resolve(asyncapi, _resolve(asyncapi, op["messages"][0]))
        if request is None:
            assert req["payload"]["type"] == "object"
        else:
            assert req["payload"] == {"$ref": f"#/components/schemas/{request}"}
        replies = [_resolve(asyncapi, _resolve(asyncapi, m)) for m in op["reply"]["messages"]]
        assert [r["payload"] for r in replies] == [
            {"$ref": f"#/components/schemas/{response}"},
            {"$ref": "#/components/schemas/QueryError"},
        ]


def test_headers_are_a_message_trait(asyncapi: dict[str, Any]) -> None:
    trait = asyncapi["components"]["messageTraits"]["busHeaders"]
    names = set(trait["headers"]["properties"])
    for name in (
        Headers.MSG_ID,
        Headers.CORRELATION,
        Headers.CAUSATION,
        Headers.TENANT,
        Headers.TYPE,
        Headers.SERVICE,
        Headers.TRACEPARENT,
    ):
        assert name in names
    assert Headers.MSG_ID in trait["headers"]["required"]
    assert Headers.TRACEPARENT not in trait["headers"]["required"]
    assert trait["correlationId"]["location"] == f"$message.header#/{Headers.CORRELATION}"
    for msg_id, message in asyncapi["components"]["messages"].items():
        if msg_id.startswith(("event.", "command.", "signal")):
            assert message["traits"] == [{"$ref": "#/components/messageTraits/busHeaders"}]


def test_every_reference_in_the_asyncapi_document_resolves(asyncapi: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    refs.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(asyncapi)
    assert refs
    for ref in refs:
        _resolve(asyncapi, {"$ref": ref})
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi == asyncapi_document()


def test_asyncapi_schemas_avoid_draft_2020_keywords(asyncapi: dict[str, Any]) -> None:
    text = json.dumps(asyncapi["components"]["schemas"])
    assert "prefixItems" not in text and "$defs" not in text
    data = asyncapi["components"]["schemas"]["Envelope"]["properties"]["data"]
    assert data["discriminator"] == "type"


# --------------------------------------------------------------------------- examples

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _envelope(data: Any) -> Envelope:
    return Envelope(
        event_id=derived_id("cmd-1", "recorded"),
        event_type=type(data).__struct_config__.tag,
        tenant_id="t1",
        stream_id="memory-m1",
        stream_version=1,
        global_position=42,
        occurred_at=NOW,
        recorded_at=NOW,
        correlation_id="corr-1",
        causation_id="cmd-1",
        actor="mk_test",
        service="ingest",
        data=data,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )


RECORDED = MemoryRecorded(memory_id="m1", user_id="u1", content="I moved to Lisbon.")
FACT = FactExtracted(
    memory_id="m1",
    user_id="u1",
    extractor="rules-v1",
    fact=ExtractedFact(
        fact_id="f1",
        attribute="city",
        value="Lisbon",
        statement="The user lives in Lisbon.",
        kind="dynamic",
        confidence=0.9,
        span=(0, 17),
    ),
)
EXAMPLES: list[tuple[str, Any]] = [
    ("envelope.json", _envelope(RECORDED)),
    ("envelope.json", _envelope(FACT)),
    ("event.memory.recorded.json", RECORDED),
    ("event.fact.extracted.json", FACT),
    (
        "command.ingest.memory.json",
        IngestMemory(
            command_id="c1",
            tenant_id="t1",
            issued_at=NOW,
            actor="mk_test",
            memory_id="m1",
            user_id="u1",
            content="hello",
            metadata={"k": [1, 2]},
        ),
    ),
    (
        "signal.json",
        Signal(
            signal_id="s1",
            signal_type="memory.indexed",
            tenant_id="t1",
            service="retrieval",
            occurred_at=NOW,
            correlation_id="corr-1",
            causation_id="e1",
        ),
    ),
]


@pytest.mark.parametrize(("schema_name", "value"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_schema_accepts_a_real_encoded_example(schema_name: str, value: Any) -> None:
    schema = _schema(schema_name)
    instance = json.loads(msgspec.json.encode(value))
    assert _errors(schema, instance) == []


def test_schema_rejects_broken_examples() -> None:
    schema = _schema("envelope.json")
    good = json.loads(msgspec.json.encode(_envelope(FACT)))
    missing = {k: v for k, v in good.items() if k != "tenant_id"}
    wrong_tag = {**good, "data": {**good["data"], "type": "memory.vanished"}}
    long_span = json.loads(json.dumps(good))
    long_span["data"]["fact"]["span"] = [0, 1, 2]
    wrong_type = {**good, "stream_version": "one"}
    for bad in (missing, wrong_tag, long_span, wrong_type):
        assert _errors(schema, bad) != []


def test_asyncapi_event_payload_accepts_an_envelope(asyncapi: dict[str, Any]) -> None:
    instance = json.loads(msgspec.json.encode(_envelope(RECORDED)))
    root = {**asyncapi, "$ref": "#/components/schemas/MemoryRecordedEnvelope"}
    assert _errors(root, instance, draft7=True) == []
    wrong = {**instance, "event_type": "fact.extracted"}
    assert _errors(root, wrong, draft7=True) != []


# --------------------------------------------------------------------------- validation


def _resolve(root: dict[str, Any], node: Any) -> Any:
    """Follow a local `$ref` (JSON pointer) inside `root`; other nodes are returned as is."""
    if not (isinstance(node, dict) and "$ref" in node):
        return node
    target: Any = root
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def _errors(schema: dict[str, Any], instance: Any, *, draft7: bool = False) -> list[str]:
    """Validation errors: with `jsonschema` when it is installed, else a structural check."""
    if HAVE_JSONSCHEMA:
        import jsonschema

        cls = jsonschema.Draft7Validator if draft7 else jsonschema.Draft202012Validator
        return [e.message for e in cls(schema).iter_errors(instance)]
    return _structural_errors(schema, schema, instance, "$")


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list,),
}


def _structural_errors(root: dict[str, Any], schema: Any, value: Any, path: str) -> list[str]:
    """The subset of JSON Schema that msgspec and the generator emit, checked by hand."""
    if schema is True:
        return []
    if schema is False:
        return [f"{path}: not allowed"]
    errors: list[str] = []
    if "$ref" in schema:
        errors += _structural_errors(root, _resolve(root, schema), value, path)
    for sub in schema.get("allOf", []):
        errors += _structural_errors(root, sub, value, path)
    if "anyOf" in schema and all(
        _structural_errors(root, sub, value, path) for sub in schema["anyOf"]
    ):
        errors.append(f"{path}: matches none of anyOf")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} != {schema['const']!r}")
    if "type" in schema:
        expected = _JSON_TYPES[schema["type"]]
        is_bool = isinstance(value, bool) and schema["type"] != "boolean"
        if not isinstance(value, expected) or is_bool:
            return [*errors, f"{path}: {value!r} is not {schema['type']}"]
    if isinstance(value, dict):
        errors += [f"{path}: missing {k}" for k in schema.get("required", []) if k not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errors += _structural_errors(root, sub, value[key], f"{path}.{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 1 << 30):
            errors.append(f"{path}: wrong length {len(value)}")
        items = schema.get("items", True)
        if "prefixItems" in schema:  # draft 2020-12 tuple
            prefix, rest = schema["prefixItems"], items
        elif isinstance(items, list):  # draft-07 tuple
            prefix, rest = items, schema.get("additionalItems", True)
        else:
            prefix, rest = [], items
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else rest
            errors += _structural_errors(root, sub, item, f"{path}[{i}]")
    return errors


@pytest.mark.skipif(not HAVE_JSONSCHEMA, reason="jsonschema is not installed")
def test_generated_schemas_are_valid_draft_2020_12() -> None:
    import jsonschema

    for rel, content in render().items():
        if rel.startswith("schemas/"):
            jsonschema.Draft202012Validator.check_schema(json.loads(content))
