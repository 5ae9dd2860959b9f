"""Where long text may be broken: paragraphs, lines and sentences, words, and hard cuts.

`segment` cuts the text into segments — runs of non-whitespace, each short enough to fit
in a chunk — and tags each with the strength of the boundary before it. The chunker packs
whole segments and prefers to end a chunk before the strongest boundary it can reach.
"""

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

from mnemo.chunking.sentences import ends_sentence


class Boundary(IntEnum):
    """How strong the break before a segment is; lower is stronger."""

    PARAGRAPH = 0  # a blank line (or U+2029)
    SENTENCE = 1  # a sentence end, or a single line break
    WORD = 2  # whitespace inside a sentence
    CUT = 3  # inside a word too long for one chunk


@dataclass(frozen=True, slots=True)
class Segment:
    """Non-whitespace text at `[start, end)` of the original, after a `boundary`."""

    start: int
    end: int
    boundary: Boundary


_WORD = re.compile(r"\S+")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028]")
# Chinese and Japanese put no space after a full stop, so the word splits after it.
_WIDE_STOP = re.compile(r"[。！？]+[」』）》\"'”’]*")
_ZWJ = "\u200d"
# How far a hard cut may move back to avoid splitting an emoji or an accented letter.
_MAX_CUT_BACKOFF = 8


def segment(text: str, max_len: int, cut_len: int) -> list[Segment]:
    """Segments of `text` in order; a word longer than `max_len` is cut every `cut_len`."""
    segments: list[Segment] = []
    previous_word: re.Match[str] | None = None
    for word in _WORD.finditer(text):
        if previous_word is None:
            boundary = Boundary.PARAGRAPH
        else:
            gap = text[previous_word.end() : word.start()]
            boundary = _gap_boundary(gap, previous_word.group(), word.group())
        for start, end, inner in _split_word(text, word.start(), word.end(), max_len, cut_len):
            segments.append(Segment(start, end, inner if start > word.start() else boundary))
        previous_word = word
    return segments


def _gap_boundary(gap: str, previous_word: str, next_word: str) -> Boundary:
    if "\u2029" in gap:
        return Boundary.PARAGRAPH
    line_breaks = 0 if gap == " " else len(_LINE_BREAK.findall(gap))
    if line_breaks >= 2:
        return Boundary.PARAGRAPH
    if line_breaks == 1 or ends_sentence(previous_word, next_word):
        return Boundary.SENTENCE
    return Boundary.WORD


def _split_word(
    text: str, start: int, end: int, max_len: int, cut_len: int
) -> Iterator[tuple[int, int, Boundary]]:
    """Pieces of one word, each with the boundary before it (the first one's is unused)."""
    piece_start = start
    for stop in _WIDE_STOP.finditer(text, start, end):
        if stop.end() < end:
            yield from _cut(text, piece_start, stop.end(), max_len, cut_len)
            piece_start = stop.end()
    yield from _cut(text, piece_start, end, max_len, cut_len)


def _cut(
    text: str, start: int, end: int, max_len: int, cut_len: int
) -> Iterator[tuple[int, int, Boundary]]:
    if end - start <= max_len:
        yield start, end, Boundary.SENTENCE
        return
    boundary = Boundary.SENTENCE
    while start < end:
        stop = end if end - start <= cut_len else _grapheme_safe(text, start, start + cut_len)
        yield start, stop, boundary
        start, boundary = stop, Boundary.CUT


def _grapheme_safe(text: str, start: int, cut: int) -> int:
    """`cut`, moved back a little if it would split a character from its marks or joiners."""
    floor = max(start + 1, cut - _MAX_CUT_BACKOFF)
    position = cut
    while position > floor and _continues_previous(text, position):
        position -= 1
    return cut if _continues_previous(text, position) else position


def _continues_previous(text: str, position: int) -> bool:
    char = text[position]
    return (
        text[position - 1] == _ZWJ
        or char == _ZWJ
        or unicodedata.category(char) in ("Mn", "Mc", "Me")  # accents, variation selectors
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin-tone modifiers
    )
