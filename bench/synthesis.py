"""Quality and speed of the built-in synthesis (extractor and timeline, in process, no
services): precision and recall per category on the quality set, and memories/s.

Prints figures; never asserts on them. Usage: python bench/synthesis.py [--repeat N] [--misses]
"""

import argparse
import time

from local_stack import machine
from synthesis_quality import DATA, format_table, load, score, synthesize


def speed(cases: list[dict], repeat: int) -> tuple[int, float]:
    """Memories synthesized and seconds taken, over the set `repeat` times."""
    memories = sum(len(c["say"]) for c in cases) * repeat
    started = time.perf_counter()
    for _ in range(repeat):
        for case in cases:
            synthesize(case)
    return memories, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20, help="passes over the set for speed")
    parser.add_argument("--misses", action="store_true", help="list every miss and false find")
    args = parser.parse_args()
    cases = load()
    held_out = [c for c in cases if c.get("held_out")]
    print(f"machine: {machine()}")
    print(f"quality set: {DATA} ({len(cases)} cases, {len(held_out)} held out)")
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
