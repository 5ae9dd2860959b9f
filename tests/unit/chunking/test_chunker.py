"""Chunks are bounded, overlap a little, follow the text's structure and map back exactly."""

import random
from itertools import pairwise

import pytest

from mnemo.chunking import Chunk, chunk_text

SENTENCE = "The agent wrote down what the user said about the deployment plan today."


def paragraph(sentences: int, topic: str) -> str:
    return " ".join(f"{topic} note {i}: {SENTENCE}" for i in range(sentences))


def assert_well_formed(text: str, chunks: list[Chunk], max_chars: int, overlap: int) -> None:
    """The invariants every chunking of every text must keep."""
    covered = [False] * len(text)
    for position, chunk in enumerate(chunks):
        assert chunk.index == position
        assert text[chunk.start : chunk.end] == chunk.text
        assert 0 < len(chunk.text) <= max_chars
        if position:
            previous = chunks[position - 1]
            assert chunk.start > previous.start
            assert chunk.end > previous.end
            assert previous.end - chunk.start <= min(overlap, max_chars // 2)
        if len(chunks) > 1:
            assert not chunk.text[0].isspace() and not chunk.text[-1].isspace()
        covered[chunk.start : chunk.end] = [True] * len(chunk.text)
    missing = [i for i, char in enumerate(text) if not covered[i] and not char.isspace()]
    assert missing == []


def test_short_text_is_one_chunk_covering_everything():
    text = "  Remember: the user prefers tea.\n"
    assert chunk_text(text) == [Chunk(0, 0, len(text), text)]


def test_text_of_exactly_max_chars_is_one_chunk():
    text = "x" * 50
    assert chunk_text(text, max_chars=50) == [Chunk(0, 0, 50, text)]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\r\n\t "])
def test_empty_or_blank_text_has_no_chunks(text):
    assert chunk_text(text) == []


@pytest.mark.parametrize("arguments", [{"max_chars": 0}, {"overlap_chars": -1}, {"min_chars": -5}])
def test_nonsense_limits_are_rejected(arguments):
    with pytest.raises(ValueError, match="max_chars"):
        chunk_text("text", **arguments)


def test_long_text_splits_at_paragraph_boundaries():
    paragraphs = [paragraph(8, topic) for topic in ("Alpha", "Beta", "Gamma", "Delta")]
    text = "\n\n".join(paragraphs)
    chunks = chunk_text(text, max_chars=1200, overlap_chars=200)
    assert_well_formed(text, chunks, 1200, 200)
    assert len(chunks) > 1
    paragraph_ends = {text.index(p) + len(p) for p in paragraphs}
    assert all(chunk.end in paragraph_ends for chunk in chunks)


def test_sentences_are_kept_whole_inside_a_long_paragraph():
    text = paragraph(60, "Gamma")
    chunks = chunk_text(text, max_chars=500, overlap_chars=100, min_chars=100)
    assert_well_formed(text, chunks, 500, 100)
    for chunk in chunks:
        assert chunk.text.startswith("Gamma note ")
        assert chunk.text.endswith("today.")


def test_each_chunk_after_the_first_repeats_a_bounded_overlap():
    text = paragraph(60, "Delta")
    chunks = chunk_text(text, max_chars=600, overlap_chars=150)
    assert_well_formed(text, chunks, 600, 150)
    for previous, chunk in pairwise(chunks):
        repeated = previous.end - chunk.start
        assert 75 <= repeated <= 150
        assert previous.text.endswith(text[chunk.start : previous.end])


def test_overlap_is_capped_at_half_a_chunk():
    text = paragraph(60, "Epsilon")
    chunks = chunk_text(text, max_chars=400, overlap_chars=1000, min_chars=50)
    assert_well_formed(text, chunks, 400, 1000)
    assert all(a.end - b.start <= 200 for a, b in pairwise(chunks))


def test_no_overlap_when_asked_for_none():
    text = paragraph(40, "Zeta")
    chunks = chunk_text(text, max_chars=300, overlap_chars=0)
    assert_well_formed(text, chunks, 300, 0)
    assert all(a.end < b.start for a, b in pairwise(chunks))


def test_a_small_last_paragraph_joins_the_chunk_before_it():
    text = paragraph(10, "Eta") + "\n\nThanks!"
    chunks = chunk_text(text, max_chars=1000, overlap_chars=100, min_chars=200)
    assert_well_formed(text, chunks, 1000, 100)
    assert chunks[-1].text.endswith("Thanks!")
    assert len(chunks[-1].text) > 200


@pytest.mark.parametrize(
    "abbreviated",
    [
        "Dr. Smith",
        "the U.S. Army",
        "e.g. Python",
        "i.e. the cache",
        "pi is 3.14 roughly",
        "Mr. Jones",
        "see Fig. 3 below",
    ],
)
def test_abbreviations_and_decimals_do_not_end_a_sentence(abbreviated):
    filler = "Words go here without any sentence end at all"
    text = f"{filler} {abbreviated} and then more words follow it until the end."
    start = text.index(abbreviated)
    # The first chunk can reach ten characters past the abbreviation. There is no sentence
    # end in reach, so it ends at the last word that fits — unless the abbreviation were
    # taken for a sentence end, which would be preferred and cut it in two.
    max_chars = start + len(abbreviated) + 10
    chunks = chunk_text(text, max_chars=max_chars, overlap_chars=0, min_chars=0)
    assert_well_formed(text, chunks, max_chars, 0)
    assert abbreviated in chunks[0].text


def test_a_real_sentence_end_is_preferred_over_a_word_break():
    text = "One two three four five. Six seven eight nine ten eleven twelve thirteen fourteen."
    chunks = chunk_text(text, max_chars=50, overlap_chars=0, min_chars=10)
    assert chunks[0].text == "One two three four five."


@pytest.mark.parametrize(
    "text",
    [
        "Q" * 5000,
        "base64: " + "QUJD" * 1250 + " done.",
        " ".join(["word"] * 2000),
        "line\n" * 1500,
        "\n" * 700 + "x" + "\n" * 700,
        "First line.\r\nSecond line.\r\n\r\n" * 120,
        "emoji 👩‍👩‍👧‍👦 family 👍🏽 thumbs ❤️ " * 200,
        "👩‍👩‍👧‍👦" * 400,
        "e\u0301" * 1500,
        "日本語の文章です。次の文です！" * 200,
        "a" * 1199 + " " + "b" * 1199,
    ],
    ids=[
        "one-long-word",
        "blob-in-prose",
        "no-punctuation",
        "only-newlines",
        "mostly-newlines",
        "crlf",
        "emoji",
        "emoji-blob",
        "combining-marks",
        "cjk",
        "words-of-max-length",
    ],
)
def test_adversarial_input_never_exceeds_max_chars(text):
    chunks = chunk_text(text, max_chars=1200, overlap_chars=200)
    assert_well_formed(text, chunks, 1200, 200)


def test_hard_cuts_do_not_split_an_emoji_family():
    family = "👩‍👩‍👧‍👦"
    text = family * 300
    for chunk in chunk_text(text, max_chars=100, overlap_chars=20):
        assert chunk.text.startswith("👩") and chunk.text.endswith("👦")


def test_a_hundred_kilobytes_of_prose_is_chunked():
    text = "\n\n".join(paragraph(random.Random(7).randint(1, 30), "Big") for _ in range(150))
    assert len(text) > 100_000
    chunks = chunk_text(text)
    assert_well_formed(text, chunks, 1200, 200)


PIECES = [
    "word",
    "Dr.",
    "U.S.",
    "e.g.",
    "3.14",
    "end.",
    "Why?",
    "Wow!",
    "wait…",
    "“Quoted.”",
    "(aside)",
    "naïve",
    "👍🏽",
    "日本語。",
    "x" * 90,
    "y" * 400,
]
GAPS = [" ", " ", " ", "  ", "\n", "\n\n", "\r\n", "\r\n\r\n", "\t", "\u00a0", " \n \n "]


def random_word(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(PIECES)
    word = "".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, 9)))
    if rng.random() < 0.2:
        return word.capitalize()
    return word + rng.choice(["", "", "", ".", ",", "!", "?"])


def random_text(rng: random.Random) -> str:
    parts = [rng.choice(GAPS) if rng.random() < 0.2 else ""]
    for _ in range(rng.randint(0, 400)):
        parts.append(random_word(rng))
        parts.append(rng.choice(GAPS))
    return "".join(parts)


def test_invariants_hold_for_many_generated_texts():
    rng = random.Random(20240601)
    for _ in range(400):
        text = random_text(rng)
        max_chars = rng.randint(1, 400)
        overlap = rng.randint(0, max_chars)
        min_chars = rng.randint(0, max_chars)
        chunks = chunk_text(text, max_chars=max_chars, overlap_chars=overlap, min_chars=min_chars)
        if not text.strip():
            assert chunks == []
        elif len(text) <= max_chars:
            assert chunks == [Chunk(0, 0, len(text), text)]
        else:
            assert_well_formed(text, chunks, max_chars, overlap)
