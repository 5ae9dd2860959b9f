"""Splitting a memory's text into bounded, overlapping chunks that keep their offsets."""

from dataclasses import dataclass

from mnemo.chunking.boundaries import Boundary, Segment, segment

# A word longer than a chunk is cut in pieces this fraction of a chunk long, so that
# consecutive chunks through it can still overlap.
_CUTS_PER_CHUNK = 8


@dataclass(frozen=True, slots=True)
class Chunk:
    """Part of a memory's text: `text == original[start:end]`, `index` counts from 0."""

    index: int
    start: int
    end: int
    text: str


def chunk_text(
    text: str, *, max_chars: int = 1200, overlap_chars: int = 200, min_chars: int = 200
) -> list[Chunk]:
    """Split `text` into chunks of at most `max_chars`, preferring paragraph, then
    sentence, then word boundaries; each chunk after the first repeats about
    `overlap_chars` (at most `max_chars // 2`) of the one before it.

    Text of at most `max_chars` is one chunk, untrimmed. Empty or whitespace-only text
    gives no chunks. Longer text gives chunks trimmed of surrounding whitespace that
    together cover every non-whitespace character. A boundary that would leave a chunk
    with fewer than `min_chars` new characters is passed over for a weaker one further on.
    """
    if max_chars < 1 or overlap_chars < 0 or min_chars < 0:
        raise ValueError(
            f"chunk_text needs max_chars >= 1 and overlap_chars, min_chars >= 0; got "
            f"max_chars={max_chars}, overlap_chars={overlap_chars}, min_chars={min_chars}"
        )
    if not text or text.isspace():
        return []
    if len(text) <= max_chars:
        return [Chunk(0, 0, len(text), text)]
    segments = segment(text, max_chars, max(1, max_chars // _CUTS_PER_CHUNK))
    overlap = min(overlap_chars, max_chars // 2)
    spans: list[tuple[int, int]] = []
    first = fresh = 0
    while True:
        last = _last_segment(segments, first, fresh, max_chars, min_chars)
        spans.append((segments[first].start, segments[last].end))
        fresh = last + 1
        if fresh == len(segments):
            break
        first = _overlap_start(segments, first, fresh, max_chars, overlap)
    return [Chunk(index, start, end, text[start:end]) for index, (start, end) in enumerate(spans)]


def _last_segment(
    segments: list[Segment], first: int, fresh: int, max_chars: int, min_chars: int
) -> int:
    """The chunk from `first` ends after this segment; `fresh` is the first not yet chunked."""
    limit = segments[first].start + max_chars
    last = fresh
    while last + 1 < len(segments) and segments[last + 1].end <= limit:
        last += 1
    if last + 1 == len(segments):
        # The end of the text is the strongest boundary: a small remainder is never left over.
        return last
    fresh_start = segments[fresh].start
    wanted = min(min_chars, (limit - fresh_start) // 2)
    best, best_boundary = last, len(Boundary)
    for index in range(fresh, last + 1):
        if segments[index].end - fresh_start < wanted:
            continue
        boundary = segments[index + 1].boundary
        if boundary <= best_boundary:
            best, best_boundary = index, boundary
    return best


def _overlap_start(
    segments: list[Segment], previous_first: int, fresh: int, max_chars: int, overlap: int
) -> int:
    """First segment of the next chunk, repeating up to `overlap` chars of the previous one.

    A sentence start is preferred if it repeats at least half of `overlap`; then the word
    that repeats the most. Starting after `previous_first` keeps starts strictly increasing,
    and the chunk must still have room for the segment at `fresh`.
    """
    repeated_end = segments[fresh - 1].end
    must_reach = segments[fresh].end
    by_boundary: dict[Boundary, int] = {}
    index = fresh - 1
    while index > previous_first and overlap > 0:
        start = segments[index].start
        if repeated_end - start > overlap or must_reach - start > max_chars:
            break
        kind = max(segments[index].boundary, Boundary.SENTENCE)
        by_boundary[kind] = index  # scanning backwards, so the longest overlap wins
        index -= 1
    sentence = by_boundary.get(Boundary.SENTENCE)
    if sentence is not None and repeated_end - segments[sentence].start >= overlap // 2:
        return sentence
    for kind in (Boundary.WORD, Boundary.CUT, Boundary.SENTENCE):
        if kind in by_boundary:
            return by_boundary[kind]
    return fresh
