"""Quality and speed of synthesis (extractor and timeline, in process, no services):
precision and recall per category on the quality set, and memories/s.

`--extractor llm` puts the local model (MNEMO_LLM=local's, or --llm-url) beside the rules:
each memory of the chosen cases is read once by the LLM extractor synthesis uses (its
prompt, schema and checks; the rules where its answer is refused, as in synthesis), then
both readings go through the same timeline and scoring. It reads about a memory a minute
on a loaded 2-core machine, so it takes the held-out cases unless --all.

Prints figures; never asserts on them. Usage: python bench/synthesis.py [--repeat N]
[--misses] [--extractor llm [--all] [--llm-url URL --llm-model M --llm-key K]]
"""

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from local_stack import machine, start_local_model
from synthesis_quality import DATA, format_table, load, score, snippets, synthesize

from mnemo.synthesis.budget import LLMBudget
from mnemo.synthesis.extractor import Extraction
from mnemo.synthesis.llm import LLMExtractor


def speed(cases: list[dict], repeat: int) -> tuple[int, float]:
    """Memories synthesized and seconds taken, over the set `repeat` times."""
    memories = sum(len(c["say"]) for c in cases) * repeat
    started = time.perf_counter()
    for _ in range(repeat):
        for case in cases:
            synthesize(case)
    return memories, time.perf_counter() - started


async def read_all(
    cases: list[dict[str, Any]], url: str, model: str, key: str | None
) -> tuple[dict[str, Extraction], float]:
    """The LLM extractor's reading of every memory of the cases, and seconds taken."""
    llm = LLMExtractor(url, model, LLMBudget(None, 0), api_key=key, timeout=900, concurrency=1)
    readings: dict[str, Extraction] = {}
    started = time.perf_counter()
    try:
        for case in cases:
            for _, text in snippets(case):
                if text not in readings:
                    readings[text] = await llm.extract("bench", text)
                    print(".", end="", flush=True)
    finally:
        await llm.close()
    print()
    return readings, time.perf_counter() - started


def compare(args: argparse.Namespace, cases: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory(prefix="mnemo-synthesis-llm-") as tmp:
        server = None
        if args.llm_url:
            url, name, key = args.llm_url, args.llm_model, args.llm_key
        else:
            server, url, name = start_local_model(Path(tmp), args.models_dir)
            key = None
        try:
            readings, seconds = asyncio.run(read_all(cases, url, name, key))
        finally:
            if server is not None:
                server.stop()
    refused = [r.fallback_reason for r in readings.values() if r.fallback_reason]
    rules, _ = score(cases)
    llm, misses = score(cases, lambda text: readings[text])
    print(f"\nrules\n{format_table(rules)}")
    print(f"\nLLM ({name}; the rules where its answer was refused)\n{format_table(llm)}")
    print(
        f"\n{len(readings)} memories read by the LLM in {seconds:.0f} s "
        f"({seconds / max(1, len(readings)):.1f} s each); refused: {len(refused)} "
        f"({', '.join(sorted({r.partition(':')[0] for r in refused})) or 'none'})"
    )
    if args.misses:
        print("\n" + "\n".join(misses))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20, help="passes over the set for speed")
    parser.add_argument("--misses", action="store_true", help="list every miss and false find")
    parser.add_argument("--extractor", choices=("rules", "llm"), default="rules")
    parser.add_argument("--all", action="store_true", help="with llm: every case")
    parser.add_argument("--llm-url")
    parser.add_argument("--llm-model", default="")
    parser.add_argument("--llm-key")
    parser.add_argument(
        "--models-dir", default=str(Path.home() / ".cache" / "mnemo-bench" / "models")
    )
    args = parser.parse_args()
    cases = load()
    held_out = [c for c in cases if c.get("held_out")]
    print(f"machine: {machine()}")
    print(f"quality set: {DATA} ({len(cases)} cases, {len(held_out)} held out)")
    if args.extractor == "llm":
        chosen = cases if args.all else held_out
        print(f"rules and the LLM on {'every' if args.all else 'the held-out'} case")
        compare(args, chosen)
        return
    tallies, misses = score(cases)
    print("\nall cases\n" + format_table(tallies))
    held_tallies, _ = score(held_out)
    print("\nheld out (never tuned on)\n" + format_table(held_tallies))
    if args.misses:
        print("\n" + "\n".join(misses))
    memories, seconds = speed(cases, args.repeat)
    print(
        f"\nsynthesized {memories} memories in {seconds:.2f}s: {memories / seconds:.0f} memories/s"
    )


if __name__ == "__main__":
    main()
