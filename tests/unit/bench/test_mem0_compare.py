"""bench/mem0_compare.py: its pure parts (no mem0, no stack, no model)."""

import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from locomo_data import QA, Conversation, Turn
from mem0_compare import (
    Column,
    Mem0Embedding,
    NoNetwork,
    first_items,
    is_local_address,
    mnemo_texts,
    side_by_side,
)

WHEN = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def conversation() -> Conversation:
    turns = [
        Turn("D1:1", "Caroline", "I went to a support group yesterday.", 1, WHEN),
        Turn("D1:2", "Melanie", "How did it go?", 1, WHEN),
        Turn("D2:1", "Caroline", "Painting again.", 2, WHEN),
    ]
    qa = [
        QA(0, "What did Caroline attend?", 4, ["D1:1"]),
        QA(1, "What does Caroline do?", 1, ["D1:1", "D2:1"]),
        QA(2, "No evidence", 5, []),
    ]
    return Conversation("conv-x", ("Caroline", "Melanie"), turns, qa)


def test_local_addresses_only_loopback_and_unix_sockets() -> None:
    assert is_local_address(("127.0.0.1", 80))
    assert is_local_address(("::1", 80, 0, 0))
    assert is_local_address(("localhost", 4222))
    assert is_local_address("/tmp/.s.PGSQL.5432")
    assert not is_local_address(("192.0.2.1", 443))
    assert not is_local_address(("us.i.posthog.com", 443))
    assert not is_local_address(None)


def test_the_guard_refuses_and_counts_what_would_leave() -> None:
    network, original = NoNetwork(), socket.socket.connect
    with network.guard(), socket.socket() as sock, pytest.raises(OSError, match="no network"):
        sock.connect(("192.0.2.1", 9))  # refused before any packet: TEST-NET-1
    assert len(network.refused) == 1
    with network.guard(), pytest.raises(OSError, match="no network"):
        socket.getaddrinfo("example.org", 443)
    assert len(network.refused) == 2
    # Loopback still connects, and the guard is gone once left.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with network.guard(), socket.socket() as client:
            client.connect(server.getsockname())
    assert socket.socket.connect is original and len(network.refused) == 2


class Doubler:
    name, dim = "doubler", 2

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [[float(len(t)), 0.0] for t in texts]


def test_the_adapter_has_the_face_mem0_calls() -> None:
    inner = Doubler()
    adapter = Mem0Embedding(inner)
    assert adapter.embed("abc", "add") == [3.0, 0.0]
    assert adapter.embed("ab") == [2.0, 0.0]
    assert adapter.embed_batch(["a", "abcd"], "search") == [[1.0, 0.0], [4.0, 0.0]]
    assert inner.calls == [["abc"], ["ab"], ["a", "abcd"]]


def test_mnemo_texts_carry_speaker_date_and_the_previous_turn_of_the_session() -> None:
    texts = mnemo_texts(conversation())
    first, reply, other = texts["D1:1"], texts["D1:2"], texts["D2:1"]
    assert len(first) == len(reply) == len(other) == 1
    assert "Caroline" in first[0] and "8 May 2023" in first[0]
    assert "How did it go?" in reply[0]
    assert "Caroline: I went to a support group yesterday." in reply[0]
    # A new session starts without a previous turn.
    assert "support group" not in other[0]


def test_first_items_keeps_the_questions_answerable_from_the_turns_kept() -> None:
    conv = conversation()
    assert first_items([conv], 0) == [conv]
    (cut,) = first_items([conv], 2)
    assert [t.dia_id for t in cut.turns] == ["D1:1", "D1:2"]
    assert [q.index for q in cut.qa] == [0]


def test_side_by_side_puts_one_system_per_column() -> None:
    recall = {
        "4": {"n": 1, "all@10": 1.0},
        "overall": {"n": 1, "all@10": 0.5, "all@10_low": 0.25, "all@10_high": 0.75},
    }
    mnemo = Column("Mnemo", items=100, accepted_s=0.5, keyword_s=1.0, dense_s=4.0)
    mnemo.p50_ms, mnemo.p95_ms, mnemo.search_where = 15.0, 30.0, "through HTTP"
    mnemo.recall, mnemo.load_before, mnemo.load_after = recall, 1.0, 2.0
    mem0 = Column("mem0", items=100, dense_s=2.0, recall={})
    table = side_by_side([mnemo, mem0], {4: "single-hop"}).splitlines()
    assert table[0] == "| | Mnemo | mem0 |"
    assert table[1] == "|---|---|---|"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table[2:]}
    assert rows["accepted"] == "| accepted | 200 items/s (0.5 s) | — |"
    assert rows["dense-complete"] == "| dense-complete | 25 items/s (4.0 s) | 50 items/s (2.0 s) |"
    assert "0.500 [0.250, 0.750]" in rows["all@10 (95% interval)"]
    assert rows["all@10 single-hop"] == "| all@10 single-hop | 1.000 | — |"
    assert "15.0 / 30.0 ms (through HTTP)" in rows["search p50 / p95"]
