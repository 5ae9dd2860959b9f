"""Whether a word ends a sentence, keeping common abbreviations and initialisms whole.

A heuristic, not a parser: a wrong answer only moves a chunk boundary, never loses text,
so it errs towards not splitting when the next word gives a hint (lower case, a number).
"""

import re

_TERMINATORS = frozenset(".!?…‽")
_CLOSERS = "\"')]}»”’"
_OPENERS = "\"'([{«“‘"
# "U.S.", "e.g.", "i.e.", "J." — letters each followed by a full stop.
_INITIALISM = re.compile(r"(?:[^\W\d_]\.)+")
# Followed by a capitalised name far more often than they end a sentence.
_TITLES = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "mx",
        "dr",
        "prof",
        "st",
        "mt",
        "sgt",
        "capt",
        "col",
        "gen",
        "lt",
        "rev",
        "hon",
        "vs",
        "cf",
        "approx",
        "ca",
    }
)
# Not a sentence end when a number follows: "No. 5", "Fig. 3", "pp. 10-12".
_BEFORE_NUMBER = frozenset({"no", "nos", "fig", "figs", "vol", "pp", "eq", "ch", "sec", "art"})


def ends_sentence(word: str, next_word: str) -> bool:
    """True when `word` closes a sentence, judging also by the `next_word` that follows it."""
    core = word.rstrip(_CLOSERS)
    if not core or core[-1] not in _TERMINATORS:
        return False
    following = next_word.lstrip(_OPENERS)[:1]
    if following.islower():
        # "e.g. this", "etc. and", "wait... what": the sentence carries on.
        return False
    if core[-1] != "." or core.endswith(".."):
        return True
    token = core.lstrip(_OPENERS).lower()
    if _INITIALISM.fullmatch(token):
        return False
    stem = token[:-1]
    if stem in _TITLES:
        return False
    return not (stem in _BEFORE_NUMBER and following.isdigit())
