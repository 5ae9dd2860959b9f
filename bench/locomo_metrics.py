"""Evidence recall for LoCoMo: all@k, frac@k, per category and overall. Pure functions.

all@k  = share of QA whose every evidence turn is in the top k results;
frac@k = mean share of evidence turns found in the top k.
"""

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

KS = (5, 10, 20)
OVERALL = "overall"


def ranked_dia_ids(results: Iterable[Mapping[str, Any]]) -> list[str]:
    """The dia_ids of search results in rank order, each once (several chunks of one memory,
    or one turn found twice, count at their first rank); results without one are skipped."""
    seen: set[str] = set()
    ranked: list[str] = []
    for result in results:
        metadata = result.get("metadata") or {}
        dia_id = metadata.get("dia_id") if isinstance(metadata, Mapping) else None
        if not isinstance(dia_id, str) or not dia_id or dia_id in seen:
            continue
        seen.add(dia_id)
        ranked.append(dia_id)
    return ranked


def recall_at(ranked: Sequence[str], evidence: Sequence[str], k: int) -> tuple[bool, float]:
    """(every evidence turn is in the top k, share of evidence turns in the top k)."""
    if not evidence:
        raise ValueError("recall needs at least one evidence turn")
    wanted = set(evidence)
    found = len(wanted & set(ranked[:k]))
    return found == len(wanted), found / len(wanted)


@dataclass
class Tally:
    n: int = 0
    all_hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(KS, 0))
    frac_sums: dict[int, float] = field(default_factory=lambda: dict.fromkeys(KS, 0.0))
    # Each question's all@k (1 or 0), in the order added: what the intervals resample.
    complete: dict[int, list[int]] = field(default_factory=lambda: {k: [] for k in KS})

    def add(self, ranked: Sequence[str], evidence: Sequence[str]) -> None:
        self.n += 1
        for k in self.all_hits:
            complete, share = recall_at(ranked, evidence, k)
            self.all_hits[k] += int(complete)
            self.frac_sums[k] += share
            self.complete[k].append(int(complete))

    def row(self) -> dict[str, float | int | None]:
        out: dict[str, float | int | None] = {"n": self.n}
        for k in self.all_hits:
            out[f"all@{k}"] = self.all_hits[k] / self.n if self.n else None
        low, high = bootstrap_interval(self.complete[INTERVAL_K])
        out[f"all@{INTERVAL_K}_low"], out[f"all@{INTERVAL_K}_high"] = low, high
        for k in self.frac_sums:
            out[f"frac@{k}"] = self.frac_sums[k] / self.n if self.n else None
        return out


class Recall:
    """Tallies by category and overall."""

    def __init__(self, categories: Iterable[int]) -> None:
        self.by_category = {c: Tally() for c in categories}
        self.overall = Tally()

    def add(self, category: int, ranked: Sequence[str], evidence: Sequence[str]) -> None:
        self.by_category.setdefault(category, Tally()).add(ranked, evidence)
        self.overall.add(ranked, evidence)

    def table(self) -> dict[str, dict[str, float | int | None]]:
        rows = {str(c): t.row() for c, t in sorted(self.by_category.items())}
        rows[OVERALL] = self.overall.row()
        return rows


# The k whose all@k gets a confidence interval, and how it is drawn.
INTERVAL_K = 10
RESAMPLES = 2000
LEVEL = 0.95


def bootstrap_interval(
    values: Sequence[float], resamples: int = RESAMPLES, level: float = LEVEL, seed: int = 0
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of the mean of `values` (one per question), resampling
    questions with replacement; (None, None) for no values. Of paired differences (one
    ranking's outcome minus another's on the same question) it says whether a change is
    more than which questions happened to be asked. Seeded: the same values, the same
    interval."""
    if not values:
        return None, None
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    tail = (1 - level) / 2
    return means[int(tail * (resamples - 1))], means[int((1 - tail) * (resamples - 1))]


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = p / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


COLUMNS = [f"all@{k}" for k in KS] + [f"frac@{k}" for k in KS]


def format_table(
    table: Mapping[str, Mapping[str, float | int | None]], names: Mapping[int, str]
) -> str:
    """Rows = categories then overall; columns = all@k then frac@k, three decimals."""
    head = f"{'category':<16}{'n':>6}" + "".join(f"{c:>9}" for c in COLUMNS)
    lines = [head, "-" * len(head)]
    for key, row in table.items():
        label = key if key == OVERALL else f"{key} {names.get(int(key), '?')}"
        cells = "".join(f"{'-':>9}" if row.get(c) is None else f"{row[c]:>9.3f}" for c in COLUMNS)
        lines.append(f"{label:<16}{row['n']:>6}{cells}")
    return "\n".join(lines)


def format_intervals(
    table: Mapping[str, Mapping[str, float | int | None]], names: Mapping[int, str]
) -> str:
    """all@10 per category and overall with its 95% bootstrap interval over questions."""
    k = INTERVAL_K
    lines = [f"all@{k}, {LEVEL:.0%} bootstrap interval over questions ({RESAMPLES} resamples):"]
    for key, row in table.items():
        label = key if key == OVERALL else f"{key} {names.get(int(key), '?')}"
        value, low, high = row.get(f"all@{k}"), row.get(f"all@{k}_low"), row.get(f"all@{k}_high")
        if value is None or low is None or high is None:
            lines.append(f"  {label:<16}{row['n']:>6}        -")
        else:
            lines.append(f"  {label:<16}{row['n']:>6}    {value:.3f}  [{low:.3f}, {high:.3f}]")
    return "\n".join(lines)
