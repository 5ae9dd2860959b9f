"""Splitting long memory content into chunks for search, traceable to the original text.

Exports `chunk_text` and `Chunk`. Chunks follow paragraph, then sentence, then word
boundaries, never exceed `max_chars`, overlap their predecessor a little, and carry the
character offsets (Python `str` indices) of the text they came from:
`original[chunk.start:chunk.end] == chunk.text`.
"""

from mnemo.chunking.chunker import Chunk, chunk_text

__all__ = ["Chunk", "chunk_text"]
