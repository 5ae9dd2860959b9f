"""LoCoMo ranking variants, each judged by a held-in check before its gain is called real.

The dev conversations are indexed once, in this process (bench/locomo_inprocess.py), and
every question is asked under each ranking variant (the retrieval modules' constants,
set for the variant and put back after). It prints, per variant, all@10 overall and per
category with a 95% bootstrap interval over questions, and its paired difference from the
first variant (the reference: the ranking without the steps being tried) with its
interval, then a leave-one-conversation-out check: for each conversation, the variant
with the best all@10 on the other four is chosen and scored on that one. The held-out
figure is what choosing among the variants is worth on a conversation that took no part
in the choice; when it is no better than the reference, the dev gain was a fit.

Usage: python bench/locomo_heldin.py [--cache DIR] [--only "name,name"] [--json FILE]
"""

import argparse
import asyncio
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from locomo_data import CATEGORIES
from locomo_inprocess import Answer, arguments, ask, indexed
from locomo_metrics import OVERALL, Recall, bootstrap_interval, percentile

from mnemo.retrieval import index as index_module

MODULES: dict[str, ModuleType] = {"index": index_module}
K = 10

# The first is the reference (the ranking without the steps tried since #17); the
# service's defaults are "date spans".
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {"index.DATE_SPANS": False},
    "date spans": {},
    "no session expansion": {"index.DATE_SPANS": False, "index.EXPAND_SEEDS": 0},
}


@contextmanager
def variant(settings: Mapping[str, Any]) -> Iterator[None]:
    """The modules' constants as the variant sets them, put back after."""
    saved = []
    for name, value in settings.items():
        module, attribute = name.split(".")
        saved.append((MODULES[module], attribute, getattr(MODULES[module], attribute)))
        setattr(MODULES[module], attribute, value)
    try:
        yield
    finally:
        for module_, attribute, value in reversed(saved):
            setattr(module_, attribute, value)


def complete(answer: Answer) -> int:
    return int(set(answer.qa.evidence) <= set(answer.ranked[:K]))


def interval(values: Sequence[float]) -> str:
    low, high = bootstrap_interval(values)
    mean = sum(values) / len(values)
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]" if low is not None else "-"


def by_category(answers: list[Answer]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {OVERALL: []}
    for i, a in enumerate(answers):
        groups.setdefault(CATEGORIES[a.qa.category], []).append(i)
        groups[OVERALL].append(i)
    return groups


def report(results: dict[str, list[Answer]]) -> dict[str, Any]:
    names = list(results)
    reference = results[names[0]]
    groups = by_category(reference)
    order = [*CATEGORIES.values(), OVERALL]
    out: dict[str, Any] = {"variants": {}, "held_out": {}}
    print(
        f"\nall@{K} by variant (95% bootstrap interval over questions; "
        f"load average {os.getloadavg()[0]:.1f}):"
    )
    w = max(28, *(len(n) + 2 for n in names))  # the variant column
    head = f"{'variant':<{w}}{'overall':>24}" + "".join(f"{c:>13}" for c in order[:-1])
    print(head + f"{'p50 ms':>9}{'p95 ms':>9}")
    for name, answers in results.items():
        recall = Recall(CATEGORIES)
        for a in answers:
            recall.add(a.qa.category, a.ranked, a.qa.evidence)
        table = recall.table()
        row = table[OVERALL]
        # A subset may leave a category without questions: "-".
        cells = "".join(
            f"{v:>13.3f}" if (v := table[str(c)][f"all@{K}"]) is not None else f"{'-':>13}"
            for c in CATEGORIES
        )
        ci = f"{row[f'all@{K}']:.3f} [{row[f'all@{K}_low']:.3f}, {row[f'all@{K}_high']:.3f}]"
        ms = [a.ms for a in answers]
        p50, p95 = percentile(ms, 50), percentile(ms, 95)
        print(f"{name:<{w}}{ci:>24}{cells}{p50:>9.1f}{p95:>9.1f}")
        out["variants"][name] = {"recall": table, "p50_ms": p50, "p95_ms": p95}
    print(f"\npaired difference from '{names[0]}' (95% bootstrap interval over questions):")
    for name in names[1:]:
        diffs = [complete(a) - complete(b) for a, b in zip(results[name], reference, strict=True)]
        cells = "  ".join(
            f"{g} {interval([diffs[i] for i in groups[g]])}" for g in order if g in groups
        )
        print(f"  {name:<{w}}{cells}")
    # Leave one conversation out: choose on four, score on the fifth.
    conversations = list(dict.fromkeys(a.conversation for a in reference))
    chosen_outcomes = [0] * len(reference)
    print(f"\nleave-one-conversation-out: the best variant on the other {len(conversations) - 1}")
    for held in conversations:
        rest = [i for i, a in enumerate(reference) if a.conversation != held]
        mine = [i for i, a in enumerate(reference) if a.conversation == held]
        # Ties go to the earlier variant: the simpler ranking unless another beats it.
        best = max(
            names, key=lambda n: (sum(complete(results[n][i]) for i in rest), -names.index(n))
        )
        for i in mine:
            chosen_outcomes[i] = complete(results[best][i])
        score = sum(chosen_outcomes[i] for i in mine) / len(mine)
        ref = sum(complete(reference[i]) for i in mine) / len(mine)
        print(f"  {held}: chose '{best}', held out all@{K} {score:.3f} ({names[0]}: {ref:.3f})")
        out["held_out"][held] = {"chosen": best, f"all@{K}": score, "reference": ref}
    diffs = [c - complete(r) for c, r in zip(chosen_outcomes, reference, strict=True)]
    for g in order:
        if g in groups:
            held = sum(chosen_outcomes[i] for i in groups[g]) / len(groups[g])
            gain = interval([diffs[i] for i in groups[g]])
            print(f"  {g:<14} held out all@{K} {held:.3f}, vs '{names[0]}' {gain}")
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(VARIANTS)
    if names[0] != next(iter(VARIANTS)):
        names.insert(0, next(iter(VARIANTS)))
    results: dict[str, list[Answer]] = {}
    async with indexed(args) as (index, conversations):
        await ask(index, conversations[:1])  # warm up: the first searches load the model
        for name in names:
            with variant(VARIANTS[name]):
                results[name] = await ask(index, conversations)
    return report(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments(parser)
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--json", default="", help="write the figures here")
    args = parser.parse_args()
    out = asyncio.run(run(args))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
