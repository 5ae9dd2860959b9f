"""Does a value look machine-generated? Shannon entropy plus character-class mix."""

import math
import re
import string
from collections import Counter

# A value is judged by its longest run between separators: API keys and tokens have one
# long random run, while slugs, dates, versions and addresses are made of short pieces.
_SEPARATORS = re.compile(r"[-_.:/@ ]")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_DROP_UPPER = str.maketrans("", "", string.ascii_uppercase)
_DROP_LOWER = str.maketrans("", "", string.ascii_lowercase)
_MIN_LENGTH = 8
_MIN_ENTROPY = 3.0
_MIN_RUN = 8


def shannon_entropy(value: str) -> float:
    """Bits per character of `value` under its own character distribution."""
    if not value:
        return 0.0
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in Counter(value).values())


def looks_random(value: str) -> bool:
    """True for values like API keys and tokens, false for words, slugs, dates and numbers."""
    if len(value) < _MIN_LENGTH or not mixed_classes(value):
        return False
    if shannon_entropy(value) < _MIN_ENTROPY:
        return False
    longest = max(_SEPARATORS.split(value), key=len)
    return (len(longest) >= _MIN_RUN and mixed_classes(longest)) or (
        len(value) >= 20 and shannon_entropy(value) >= 3.5
    )


def mixed_classes(value: str) -> bool:
    """Letters with digits, or a long run of evenly mixed case: what random alphabets give.

    Case alone is weak evidence (`Authorization`, `camelCaseName`), so without a digit the
    run must be long and about as many upper as lower case letters.
    """
    if _DIGIT.search(value):
        return _LETTER.search(value) is not None
    upper = len(value) - len(value.translate(_DROP_UPPER))
    letters = upper + len(value) - len(value.translate(_DROP_LOWER))
    return letters >= 16 and 0.25 <= upper / letters <= 0.75
