"""The pure part of the synthesis benchmark: run the built-in synthesis (extractor and
timeline, no services) over the quality set and score it against what a reader expects.

Scored per bucket: each fact category (what holds at the end), `ended` (facts superseded
or negated) and `entities` (name, type and relationship must all match).
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from mnemo.contracts import EntityExtracted
from mnemo.synthesis import extractor, values
from mnemo.synthesis.attributes import ATTRIBUTES
from mnemo.synthesis.names import MENTIONED
from mnemo.synthesis.timeline import Timeline

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "synthesis_quality.yaml"
START = datetime(2026, 1, 1, 9, tzinfo=UTC)

Item = tuple[str, ...]


def load(path: Path = DATA) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text())["cases"])


def snippets(case: dict[str, Any]) -> list[tuple[datetime, str]]:
    """(occurred_at, text) in the order said: a day apart unless the case gives dates."""
    out = []
    for i, said in enumerate(case["say"]):
        if isinstance(said, dict):
            at = datetime.fromisoformat(said["at"]).replace(tzinfo=UTC)
            out.append((at, said["text"]))
        else:
            out.append((START + timedelta(days=i), said))
    return out


@dataclass
class Outcome:
    facts: set[Item] = field(default_factory=set)
    ended: set[Item] = field(default_factory=set)
    entities: set[Item] = field(default_factory=set)


Extract = Callable[[str], extractor.Extraction]


def synthesize(case: dict[str, Any], extract: Extract = extractor.extract) -> Outcome:
    """What synthesis makes of one case: the built-in extractor's findings, or another's
    (the LLM's, read beforehand), decided on the timeline."""
    timeline = Timeline(f"quality-{case['id']}")
    latest: dict[str, tuple[datetime, int, Item]] = {}
    for i, (at, text) in enumerate(snippets(case)):
        derived = timeline.decide(
            cause=f"{case['id']}-{i}",
            memory_id=f"m{i}",
            user_id=case["id"],
            at=at,
            found=extract(text),
        )
        for order, (_, data) in enumerate(derived):
            if isinstance(data, EntityExtracted):
                e = data.entity
                # as the read model ranks them: a relationship said beats a mere mention
                known = e.relationship != MENTIONED
                seen = (known, at, i * 1000 + order), (values.key(e.value), e.type, e.relationship)
                if e.entity_id not in latest or seen[0] > latest[e.entity_id][0]:
                    latest[e.entity_id] = seen
    current = {(f.attribute, values.key(f.value)) for f in timeline.holding()}
    ended = {(f.attribute, values.key(f.value)) for f in timeline.facts.values() if not f.current}
    return Outcome(
        facts=current,
        ended=ended - current,
        entities={item for _, item in latest.values()},
    )


def expected(case: dict[str, Any]) -> Outcome:
    return Outcome(
        facts={(a, values.key(str(v))) for a, v in case.get("facts") or []},
        ended={(a, values.key(str(v))) for a, v in case.get("ended") or []},
        entities={(values.key(n), t, r) for n, t, r in case.get("entities") or []},
    )


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def _category(item: Item) -> str:
    spec = ATTRIBUTES.get(item[0])
    return spec.category if spec else "relations"


def score(
    cases: list[dict[str, Any]], extract: Extract = extractor.extract
) -> tuple[dict[str, Tally], list[str]]:
    """Tallies per bucket (each fact category, "ended", "entities", and "facts" over all
    categories) and one line per miss or false find, for reading."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    misses: list[str] = []
    for case in cases:
        got, want = synthesize(case, extract), expected(case)
        pairs = [
            ("facts", got.facts, want.facts),
            ("ended", got.ended, want.ended),
            ("entities", got.entities, want.entities),
        ]
        for bucket, found, wanted in pairs:
            for item in found | wanted:
                names = [_category(item), "facts"] if bucket == "facts" else [bucket]
                for name in names:
                    tally = tallies[name]
                    if item in found and item in wanted:
                        tally.tp += 1
                    elif item in found:
                        tally.fp += 1
                    else:
                        tally.fn += 1
                if (item in found) != (item in wanted):
                    what = "extra" if item in found else "missed"
                    misses.append(f"{case['id']}: {what} in {bucket}: {item}")
    return dict(tallies), misses


def format_table(tallies: dict[str, Tally]) -> str:
    order = [*sorted(k for k in tallies if k not in ("facts", "ended", "entities"))]
    order += [k for k in ("facts", "ended", "entities") if k in tallies]
    lines = [f"{'bucket':<12} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>4} {'fn':>4}"]
    for name in order:
        t = tallies[name]
        lines.append(
            f"{name:<12} {t.precision:>9.3f} {t.recall:>7.3f} {t.tp:>4} {t.fp:>4} {t.fn:>4}"
        )
    return "\n".join(lines)
