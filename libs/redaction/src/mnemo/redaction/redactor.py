"""`redact`: find every secret in a text and replace each with a typed placeholder."""

import bisect
from collections import Counter
from dataclasses import dataclass

from mnemo.redaction.contexts import CONTEXT_RULES
from mnemo.redaction.providers import PROVIDER_RULES
from mnemo.redaction.rule import PLACEHOLDER, Rule, placeholder

# Most specific first: the position of a rule breaks ties between equally long candidates.
RULES: tuple[Rule, ...] = PROVIDER_RULES + CONTEXT_RULES
# A second pass almost always finds nothing new; the bound stops a pathological input.
_MAX_PASSES = 4


@dataclass(frozen=True)
class Redaction:
    """One secret that was removed: its kind and its span in the original text."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Redacted:
    """The text with secrets replaced, how many of each kind, and where they were."""

    text: str
    counts: dict[str, int]
    redactions: tuple[Redaction, ...]


def redact(text: str) -> Redacted:
    """Replace every secret in `text` with `[REDACTED:<kind>]`.

    Idempotent: placeholders already in `text` are left alone, and the search is repeated on
    its own output until it finds nothing new, so redacting the result again changes nothing.
    A repeat matters when a secret was glued to another one (`...AKIA...=client_secret: x`)
    and only shows once its neighbour became a placeholder.
    """
    found: list[Redaction] = []
    current = text
    for _ in range(_MAX_PASSES):
        fresh = _non_overlapping(_candidates(current))
        if not fresh:
            break
        found = sorted(found + [_in_original(r, found) for r in fresh], key=lambda r: r.start)
        current = _render(text, found)
    counts = Counter(redaction.kind for redaction in found)
    return Redacted(current, dict(counts), tuple(found))


def _render(text: str, redactions: list[Redaction]) -> str:
    parts: list[str] = []
    cursor = 0
    for redaction in redactions:
        parts.append(text[cursor : redaction.start])
        parts.append(placeholder(redaction.kind))
        cursor = redaction.end
    parts.append(text[cursor:])
    return "".join(parts)


def _in_original(redaction: Redaction, earlier: list[Redaction]) -> Redaction:
    """Map a span found in a rendered text back to the text it was rendered from."""
    shift = 0
    for done in earlier:
        if done.start + shift >= redaction.start:
            break
        shift += len(placeholder(done.kind)) - (done.end - done.start)
    return Redaction(redaction.kind, redaction.start - shift, redaction.end - shift)


def _candidates(text: str) -> list[tuple[Redaction, int]]:
    """Every accepted finding of every rule, with the rank of the rule that found it."""
    protected = [match.span() for match in PLACEHOLDER.finditer(text)]
    found: list[tuple[Redaction, int]] = []
    for rank, rule in enumerate(RULES):
        for start, end in rule.find(text):
            if any(s < end and start < e for s, e in protected):
                continue
            found.append((Redaction(rule.kind, start, end), rank))
    return found


def _non_overlapping(candidates: list[tuple[Redaction, int]]) -> list[Redaction]:
    """Keep the longest candidates, then the most specific, then the earliest; no overlaps.

    Longest first so that a whole PEM block beats a token-shaped piece inside it and a
    `password=` value beats a shorter card-shaped run inside that value.
    """
    order = sorted(candidates, key=lambda c: (c[0].start - c[0].end, c[1], c[0].start))
    starts: list[int] = []
    kept: list[Redaction] = []
    for redaction, _rank in order:
        at = bisect.bisect_left(starts, redaction.start)
        if at > 0 and kept[at - 1].end > redaction.start:
            continue
        if at < len(kept) and kept[at].start < redaction.end:
            continue
        starts.insert(at, redaction.start)
        kept.insert(at, redaction)
    return kept
