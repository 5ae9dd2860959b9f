"""The Mem0 surface's filters, error shape, and how its requests are told apart."""

import asyncio
from datetime import UTC, datetime

import msgspec
import pytest

from mnemo.gateway.compat.mem0 import Mem0Paths
from mnemo.gateway.compat.mem0_shapes import (
    MEM0_KEY,
    Scope,
    Stored,
    mem0_refusal,
    memory_json,
    scope_of,
)
from mnemo.gateway.problems import Problem


def test_flat_and_and_filters_name_the_same_scope():
    flat = scope_of({}, {"user_id": "alice", "run_id": "r1"})
    anded = scope_of({}, {"AND": [{"user_id": "alice"}, {"run_id": "r1"}]})
    assert flat == anded == Scope(user_id="alice", run_id="r1")
    # Top-level ids (the older clients' way) count too; "*" is any.
    # "*" is any in a read filter, and never an id to write or delete by.
    assert scope_of({"agent_id": "a"}, {"user_id": "*"}, wildcard=True) == Scope(agent_id="a")
    with pytest.raises(Problem):
        scope_of({"agent_id": "a"}, {"user_id": "*"})


def test_what_mnemo_cannot_query_is_matched_on_the_metadata():
    scope = scope_of({}, {"user_id": "u", "app_id": "crm", "metadata": {"k": "v"}})
    assert scope.post_filtered
    assert scope.matches({"k": "v", MEM0_KEY: {"app_id": "crm"}})
    assert not scope.matches({"k": "v", MEM0_KEY: {"app_id": "other"}})
    assert not scope.matches({"k": "w", MEM0_KEY: {"app_id": "crm"}})


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"OR": [{"user_id": "u"}]}, "filters"),
        ({"created_at": {"gte": "2024-01-01"}}, "filters.created_at"),
        ({"user_id": 7}, "user_id"),
        ({"user_id": "x" * 257}, "user_id"),
        ("alice", "filters"),
    ],
)
def test_a_filter_mnemo_does_not_keep_is_refused_naming_it(filters, field):
    with pytest.raises(Problem) as refused:
        scope_of({}, filters)
    assert refused.value.status == 400 and refused.value.details["field"] == field


def test_errors_are_detail_objects_and_bad_input_is_400():
    answer = mem0_refusal(Problem(422, "INVALID_REQUEST", "must be 1-50", field="top_k"))
    assert answer.status_code == 400
    body = msgspec.json.decode(answer.content)
    assert body == {"detail": "top_k: must be 1-50", "code": "INVALID_REQUEST", "field": "top_k"}


def _seen_path(path: str, authorization: bytes | None) -> str:
    seen: list[str] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(scope["path"])
        assert scope["raw_path"].decode() == scope["path"]

    headers = [(b"authorization", authorization)] if authorization else []
    scope = {"type": "http", "path": path, "raw_path": path.encode(), "headers": headers}
    asyncio.run(Mem0Paths(app)(scope, None, None))  # type: ignore[arg-type]
    return seen[0]


def test_a_token_key_goes_to_the_mem0_surface_and_a_bearer_key_stays_native():
    assert _seen_path("/v1/memories/m1/", b"Token mk_x") == "/mem0/v1/memories/m1/"
    assert _seen_path("/v1/memories/m1/", b"token mk_x") == "/mem0/v1/memories/m1/"
    assert _seen_path("/v1/memories/m1", b"Bearer mk_x") == "/v1/memories/m1"
    assert _seen_path("/v1/memories/m1", None) == "/v1/memories/m1"
    assert _seen_path("/mem0/v1/ping/", b"Token mk_x") == "/mem0/v1/ping/"


@pytest.mark.parametrize(
    "odd", [{"added": 5}, {"added": [[1]]}, "x", {"app_id": ["a"]}, {"id": 7, "infer": "yes"}]
)
def test_a_mem0_key_of_another_shape_is_no_record(odd):
    """Before every other surface refused `metadata.mem0`, one could write it of any
    shape: such a memory, still stored, is shown as what it is (it made every Mem0 read
    of the user a 500)."""
    when = datetime(2026, 1, 2, tzinfo=UTC)
    stored = Stored("m-1", "I like kites", {MEM0_KEY: odd}, when, "u-1", None, "s-9")
    shown = memory_json(stored)
    assert (shown["id"], shown["memory"], shown["user_id"], shown["run_id"]) == (
        "m-1",
        "I like kites",
        "u-1",
        "s-9",
    )
