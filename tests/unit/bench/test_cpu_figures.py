"""The pure parts of bench/cpu.py: CPU per memory, PostgreSQL's split, py-spy's raw stacks."""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from cpu_figures import (
    CpuSample,
    inclusive_shares,
    markdown_table,
    ms_per_memory,
    net_seconds,
    own_shares,
    package_of,
    parse_raw,
    pg_split,
    quiet,
    short_frame,
    tree_seconds,
)


def test_a_process_tree_counts_its_own_its_reaped_and_its_live_childrens_time() -> None:
    postmaster = CpuSample(own=1.0, reaped_children=4.0)
    backends = [CpuSample(own=2.0, reaped_children=0.0), CpuSample(own=0.5, reaped_children=0.25)]
    assert tree_seconds(postmaster, backends) == pytest.approx(7.75)


def test_a_child_that_exits_moves_into_the_reaped_time_and_the_sum_stays() -> None:
    live = tree_seconds(CpuSample(1.0, 0.0), [CpuSample(3.0, 0.0)])
    reaped = tree_seconds(CpuSample(1.0, 3.0), [])
    assert live == reaped == pytest.approx(4.0)


def test_milliseconds_per_memory_and_the_net_of_idle() -> None:
    assert ms_per_memory(2.5, 1000) == pytest.approx(2.5)
    assert math.isnan(ms_per_memory(1.0, 0))
    assert net_seconds(10.0, idle_per_s=0.02, window_s=100.0) == pytest.approx(8.0)
    assert net_seconds(1.0, idle_per_s=0.02, window_s=100.0) == 0.0


def test_quiet_is_back_within_the_idle_rate_and_a_margin() -> None:
    assert quiet(0.06, idle_rate=0.03)
    assert not quiet(0.5, idle_rate=0.03)
    assert quiet(0.3, idle_rate=0.25)
    assert not quiet(0.4, idle_rate=0.25)


def test_postgresql_split_by_client_with_backends_that_come_and_go() -> None:
    before = {
        10: ("ingest", 1.0),
        11: ("synthesis", 2.0),
        12: ("gone", 5.0),
        13: ("bench polling", 0.1),
    }
    after = {
        10: ("ingest", 1.5),
        11: ("synthesis", 3.0),
        14: ("synthesis", 0.25),
        13: ("bench polling", 0.2),
    }
    split = pg_split(before, after, total=3.0)
    assert split["synthesis"] == pytest.approx(1.25)
    assert split["ingest"] == pytest.approx(0.5)
    assert split["exited/postmaster"] == pytest.approx(1.25)
    assert "bench polling" not in split and "gone" not in split
    assert list(split) == ["synthesis", "exited/postmaster", "ingest"]


MAIN = "<module> (mnemo/retrieval/__main__.py:1)"
SESSION_RUN = "Session.run (onnxruntime/capi/onnxruntime_inference_collection.py:383)"
ENCODE = f"{MAIN};encode (mnemo/embeddings/onnx.py:40);{SESSION_RUN}"
RAW = "\n".join(
    [
        f"{MAIN};run (asyncio/runners.py:186);Runner.run (asyncio/runners.py:86) 60",
        f"{ENCODE} 30",
        f"{ENCODE} 5",
        f"{MAIN};handle (retrieval/handlers.py:10);dumps (json/__init__.py:183) 5",
        "not a sample line",
    ]
)


def test_raw_stacks_merge_and_own_shares_come_from_the_top_of_each_stack() -> None:
    stacks = parse_raw(RAW)
    assert sum(stacks.values()) == 100
    assert len(stacks) == 3
    shares = own_shares(stacks)
    assert shares[0] == ("Runner.run (asyncio/runners.py:86)", pytest.approx(0.6))
    assert shares[1][0].startswith("Session.run ") and shares[1][1] == pytest.approx(0.35)
    # encode() is on every Session.run stack but has no samples of its own.
    assert not any(name.startswith("encode ") for name, _ in shares)
    by_package = dict(own_shares(stacks, key="package"))
    assert by_package == {
        "asyncio": pytest.approx(0.6),
        "onnxruntime": pytest.approx(0.35),
        "json": pytest.approx(0.05),
    }
    assert own_shares(parse_raw("")) == []


def test_inclusive_shares_count_mnemo_frames_once_per_stack_with_their_callees() -> None:
    stacks = parse_raw(
        RAW + "\n" + f"{MAIN};encode (mnemo/embeddings/onnx.py:40);"
        "encode (mnemo/embeddings/onnx.py:40) 10"
    )
    shares = dict(inclusive_shares(stacks))
    # 35 samples under Session.run and 10 in a recursive encode, of 110.
    assert shares == {"encode (mnemo/embeddings/onnx.py:40)": pytest.approx(45 / 110)}


@pytest.mark.parametrize(
    ("frame", "package"),
    [
        ("Connection.execute (asyncpg/connection.py:320)", "asyncpg"),
        ("encode (mnemo/embeddings/onnx.py:40)", "mnemo.embeddings"),
        ("uuid5 (uuid.py:725)", "uuid"),
        ("f (/root/.pyenv/versions/3.11.7/lib/python3.11/asyncio/events.py:80)", "asyncio"),
        ("f (/x/.venv/lib/python3.11/site-packages/nats/aio/client.py:9)", "nats"),
        ("f (/work/main/services/retrieval/src/mnemo/retrieval/index.py:9)", "mnemo.retrieval"),
        ("epoll_pwait (libc.so.6)", "libc.so.6"),
        ("<module> (<string>:1)", "<string>"),
    ],
)
def test_package_of_a_frame(frame: str, package: str) -> None:
    assert package_of(frame) == package


def test_frames_are_named_from_their_package_on() -> None:
    full = "entry_row (/work/x/services/audit/src/mnemo/audit/entries.py:24)"
    assert short_frame(full) == "entry_row (mnemo/audit/entries.py:24)"
    venv = "f (/x/.venv/lib/python3.11/site-packages/opentelemetry/trace/__init__.py:9)"
    assert short_frame(venv) == "f (opentelemetry/trace/__init__.py:9)"
    assert short_frame("epoll_pwait (libc.so.6)") == "epoll_pwait (libc.so.6)"
    stacks = parse_raw(f"{MAIN};{full} 3\n{MAIN};entry_row (mnemo/audit/entries.py:24) 2")
    assert stacks == {(MAIN, "entry_row (mnemo/audit/entries.py:24)"): 5}


def test_markdown_table_right_aligns_numeric_columns() -> None:
    table = markdown_table(["component", "ms"], [["ingest", "1.50"], ["**total**", "29.10"]])
    assert table.splitlines() == [
        "| component | ms |",
        "| --- | ---: |",
        "| ingest | 1.50 |",
        "| **total** | 29.10 |",
    ]
