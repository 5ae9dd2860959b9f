"""MEMANTO's extractive summaries (mnemo.gateway.compat.memanto_session.summary_of)."""

from mnemo.gateway.compat.memanto_compress import approx_tokens
from mnemo.gateway.compat.memanto_session import summary_of


def test_what_fits_is_kept_whole_in_order():
    texts = ["The launch is set for 14 March.", "  Maria owns the pricing page. "]
    assert summary_of(texts, 100) == (
        "- The launch is set for 14 March.\n- Maria owns the pricing page."
    )


def test_over_budget_keeps_the_sentences_that_carry_facts():
    texts = [
        "well, okay then. My order number is 1042. sure thing.",
        "hmm, right. Maria moved to Porto. yes.",
    ] * 3
    summary = summary_of(texts, 20)
    assert summary.startswith("- My order number is 1042.\n- Maria moved to Porto.")
    assert "okay" not in summary and "hmm" not in summary
    assert len(summary) <= 20 * 4


def test_nothing_informative_is_an_empty_summary():
    assert summary_of(["ok. sure. fine."] * 40, 10) == ""


def test_a_long_history_is_cut_at_the_first_sentence_over_budget():
    # 100 memories of 100 KB: the longest run of sentences that fits, in order.
    texts = [" ".join(f"Item {m}-{i}." for i in range(9_000)) for m in range(100)]
    summary = summary_of(texts, 32_000)
    lines = summary.split("\n")
    assert lines == [f"- Item {n // 9_000}-{n % 9_000}." for n in range(len(lines))]
    assert approx_tokens(summary) <= 32_000
    following = f"- Item {len(lines) // 9_000}-{len(lines) % 9_000}."
    assert approx_tokens(summary + "\n" + following) > 32_000
