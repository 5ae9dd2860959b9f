"""bench/locomo_linked.py's pure parts: the links the built-in synthesis makes between
turns, and how a variant's extra memories enter a ranking."""

import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from locomo_data import Conversation, Turn
from locomo_linked import after_head, rrf, synthesize, without_names

from mnemo.contracts import derived_id
from mnemo.retrieval.index import EXPAND_AT


def turn(dia_id: str, speaker: str, text: str) -> Turn:
    return Turn(dia_id, speaker, text, 1, datetime(2023, 5, 8, 13, 56, tzinfo=UTC))


def test_turns_naming_one_thing_share_its_entity_and_a_fact_said_again_links_its_memories() -> None:
    conv = Conversation(
        "conv-x",
        ("Ana", "Ben"),
        [
            turn("D1:1", "Ana", "My dog Biscuit loves the beach."),
            turn("D1:2", "Ben", "That sounds lovely."),
            turn("D1:3", "Ana", "I took Biscuit, my dog, to the vet today."),
            turn("D1:4", "Ana", "I work at Initech."),
            turn("D1:5", "Ana", "I still work at Initech."),
        ],
        [],
    )
    links = synthesize([conv])
    one, two, three, four, five = (derived_id("conv-x", f"D1:{i}") for i in range(1, 6))
    assert links.entities[one] & links.entities[three]
    assert "Biscuit" in {links.names[e] for e in links.entities[one]}
    assert not links.entities[two] and not links.facts[two]
    assert links.facts[four] and links.facts[four] == links.facts[five]  # corroborated


def test_extra_memories_enter_after_the_head_and_leave_the_rest_in_order() -> None:
    ranking = [f"m{i}" for i in range(12)]
    out = after_head(ranking, ["m1", "x", "m9", "y", "z"], n=3)
    assert out[:EXPAND_AT] == ranking[:EXPAND_AT]
    assert out[EXPAND_AT : EXPAND_AT + 3] == ["x", "m9", "y"]  # what the head holds is skipped
    assert out[EXPAND_AT + 3 :] == [m for m in ranking[EXPAND_AT:] if m != "m9"]


def test_fusion_raises_what_both_rankings_hold() -> None:
    assert rrf(["a", "b", "c"], ["c", "d"])[0] == "c"


def test_the_decomposed_question_keeps_its_content_words_only() -> None:
    assert without_names("Which cities has John been to?") == "cities"
    assert without_names("What do Jon and Gina both have in common?") == "common"
