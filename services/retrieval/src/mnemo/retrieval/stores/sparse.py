"""BM25-style sparse vectors: the "keyword" half of a search, with no vocabulary to keep.

A document's vector holds, per distinct word, BM25's saturated term frequency
`tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl))`; a query's holds 1.0 per distinct
word. The IDF half of BM25 is left to the engine (Qdrant's IDF modifier on the sparse
vector), which knows the corpus at query time; the dot product is then BM25. Were an
engine to lack IDF, scores would be saturated term frequencies only: still exact-word
matching, with common words weighing as much as rare ones.

Word ids are a stable hash (blake2b, folded into 31 bits), so any process, replica or
rebuild gives a word the same id without a shared vocabulary; two words sharing an id
is possible but rare enough (about one pair in 2**31 / vocabulary) to ignore.
"""

import hashlib
import re
from collections import Counter

from mnemo.retrieval.stores.base import SparseVector

# Unicode letters and digits: `\w` without the underscore, so "tool_call" is two words.
_WORD = re.compile(r"[^\W_]+")

# A short English list: the words that carry no meaning in a memory search.
_STOPWORDS = """a about above after again against all am an and any are as at be because been
before being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers herself him himself his how i if in into
is it its itself just me more most my myself no nor not of off on once only or other our
ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves"""
STOPWORDS = frozenset(_STOPWORDS.split())

K1 = 1.2
B = 0.75
# A fixed average document length, in words after stopwords. Memories are mostly chat
# turns and short notes (10-40 words) and chunks stop at 1200 characters (~110 words).
# Fixing it, rather than measuring the corpus, keeps each point's vector a function of its
# own text alone: indexing never revisits old points as the corpus grows.
AVG_DOC_WORDS = 40.0


STEM = True
# Names how documents become sparse vectors; a change means the index must be rebuilt.
VERSION = f"bm25-k{K1}-b{B}-avg{AVG_DOC_WORDS}" + ("-stem1" if STEM else "")

_VOWEL = re.compile(r"[aeiouy]")
_DOUBLE = re.compile(r"([bdfgklmnprtz])\1$")


def stem(word: str) -> str:
    """A light English suffix stripper (a few of Porter's steps): plurals, -ing and -ed, so
    "hiking", "hiked" and "hikes" meet "hike"'s stem. Short words and numbers stay whole."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix):
            base = word[: -len(suffix)]
            if len(base) >= 3 and _VOWEL.search(base):
                word = base[:-1] if _DOUBLE.search(base) else base
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if word.endswith("y") and len(word) > 4:
        word = word[:-1] + "i"
    return word


def words(text: str) -> list[str]:
    """Lowercased words of `text`, stopwords removed, each stemmed."""
    found = [w for w in _WORD.findall(text.casefold()) if w not in STOPWORDS]
    return [stem(w) for w in found] if STEM else found


def term_id(word: str) -> int:
    """The word's sparse index: stable across processes and versions of Python."""
    digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % 2**31


class SparseEncoder:
    """Turns texts into the sparse vectors the stores index and search with."""

    def __init__(self, k1: float = K1, b: float = B, avg_doc_words: float = AVG_DOC_WORDS):
        self.k1 = k1
        self.b = b
        self.avg_doc_words = avg_doc_words

    def document(self, text: str) -> SparseVector:
        """The vector a point is indexed with: saturated term frequencies."""
        tokens = words(text)
        norm = self.k1 * (1 - self.b + self.b * len(tokens) / self.avg_doc_words)
        weights: dict[int, float] = {}
        for word, tf in Counter(tokens).items():
            index = term_id(word)
            weights[index] = weights.get(index, 0.0) + tf * (self.k1 + 1) / (tf + norm)
        return _vector(weights)

    def query(self, text: str) -> SparseVector:
        """The vector a search asks with: each distinct word once, the engine adds IDF."""
        return _vector(dict.fromkeys((term_id(w) for w in words(text)), 1.0))


def _vector(weights: dict[int, float]) -> SparseVector:
    indices = sorted(weights)
    return SparseVector(indices=indices, values=[weights[i] for i in indices])
