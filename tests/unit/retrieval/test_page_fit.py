"""A page of memories holds what one reply holds (`fitted`): cut from the end when its
compressed size is over the budget, never below one memory, untouched when it fits."""

import random
import zlib

import msgspec

from mnemo.contracts import MemoryPage, MemoryView, utcnow
from mnemo.retrieval.handlers import fitted, page_budget


def _page(count: int, chars: int, seed: int = 3) -> MemoryPage:
    rng = random.Random(seed)
    now = utcnow()

    def text() -> str:
        return "".join(rng.choice("abcdefghij klmnopqrstuvwxyz") for _ in range(chars))

    memories = [
        MemoryView(
            memory_id=f"m{i}",
            user_id="u",
            content=text(),
            source_type="conversation",
            source_id=None,
            session_id=None,
            agent_id=None,
            metadata={},
            occurred_at=now,
            recorded_at=now,
        )
        for i in range(count)
    ]
    return MemoryPage(memories=memories, total=count, limit=count, offset=0)


def _compressed(page: MemoryPage) -> int:
    return len(zlib.compress(msgspec.json.encode(page), 1))


def test_a_page_over_the_budget_is_cut_to_fit_and_keeps_its_first_memories():
    page = _page(100, 100_000)
    cut = fitted(page, 768 * 1024)
    assert 1 <= len(cut.memories) < 100 and _compressed(cut) <= 768 * 1024
    assert [m.memory_id for m in cut.memories] == [f"m{i}" for i in range(len(cut.memories))]
    assert cut.total == 100  # the asker learns how many there are
    # Close to the most that fit, not far below (one memory more would not fit).
    more = msgspec.structs.replace(page, memories=page.memories[: len(cut.memories) + 2])
    assert _compressed(more) > 768 * 1024 * 0.9


def test_a_page_that_fits_is_untouched_and_one_memory_is_never_cut():
    small = _page(20, 1_000)
    assert fitted(small, 768 * 1024) is small
    single = _page(1, 500_000)
    assert fitted(single, 64 * 1024) is single


def test_the_budget_follows_the_servers_max_payload():
    assert page_budget(1024 * 1024) == 768 * 1024
    assert page_budget(512 * 1024) == 384 * 1024
    assert page_budget(8 * 1024 * 1024) == 768 * 1024
