"""What the dense vector is made of, against LoCoMo recall and MiniLM's cost.

The sparse side is indexed as the service does (`sparse_text`: names, speaker, date, the
chunk, the previous turn); only the dense text changes, variant by variant. For each: LoCoMo
dev evidence recall in process (bench/locomo_inprocess.py, every conversation unless
`--conversations`), the mean word pieces MiniLM sees per dense text ([CLS] and [SEP]
included, cut at the model's limit), and MiniLM texts/s on those very texts, in batches of
`DENSE_BATCH` as phase 2 embeds them: wall-clock texts/s and CPU ms per text (summed over
this process's threads). The timing takes one batch of each variant in turn (`--runs`
passes, median), so on a machine shared with other work the ratios between variants (of
CPU time: the speed-up) hold better than the absolute figures. Prints figures; asserts
nothing.

Usage: python bench/dense_text.py [--cache DIR] [--runs 3] [--conversations conv-26]
"""

import argparse
import asyncio
import os
import platform
import re
import statistics
import time
from collections.abc import Callable

from locomo_data import CATEGORIES
from locomo_inprocess import DEFAULT_DATA, run
from locomo_metrics import OVERALL
from tokenizers import Tokenizer

from mnemo.embeddings import MiniLMEmbedder
from mnemo.embeddings.minilm import MAX_TOKENS, bundled_model_dir
from mnemo.retrieval.index import DENSE_BATCH, ChunkContext, dense_text

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def said(chunk: ChunkContext) -> str:
    return f"{chunk.speaker}: {chunk.words}" if chunk.speaker else chunk.words


def last_sentence(text: str) -> str:
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    return sentences[-1] if sentences else ""


def said_after_last_sentence(chunk: ChunkContext) -> str:
    if chunk.before is None:
        return said(chunk)
    before = last_sentence(chunk.before.content)
    before = f"{chunk.before.speaker}: {before}" if chunk.before.speaker else before
    return said(chunk) + "\n" + before


def said_after(chunk: ChunkContext) -> str:
    return said(chunk) + "\n" + chunk.before.as_context() if chunk.before else said(chunk)


def headed(chunk: ChunkContext) -> str:
    return " ".join((*chunk.names, chunk.when)) + "\n" + chunk.words


# Name -> (what it embeds, the function); the table compares the others with the first,
# the default (today the sparse side's text: names, date, words, previous turn).
VARIANTS: dict[str, tuple[str, Callable[[ChunkContext], str]]] = {
    "default": ("what `dense_text` embeds", dense_text),
    "said+prev": ("speaker: words, then the previous turn as the sparse side has it", said_after),
    "said+last": (
        "speaker: words, then the previous turn's last sentence",
        said_after_last_sentence,
    ),
    "headed": ("names, date, words; no previous turn", headed),
    "said": ("speaker: words", said),
    "words": ("the chunk's words alone", lambda chunk: chunk.words),
}


def recording(
    make: Callable[[ChunkContext], str], seen: list[str]
) -> Callable[[ChunkContext], str]:
    """`make`, keeping what it made in `seen`: the very texts the index embedded."""

    def made(chunk: ChunkContext) -> str:
        seen.append(text := make(chunk))
        return text

    return made


def word_pieces(texts: list[str]) -> float:
    tokenizer = Tokenizer.from_file(str(bundled_model_dir() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    return statistics.fmean(len(e.ids) for e in tokenizer.encode_batch(texts))


def timed(embedder: MiniLMEmbedder, texts: dict[str, list[str]]) -> dict[str, tuple[float, float]]:
    """By variant, (texts/s, CPU ms per text over every thread of this process) embedding
    its texts in batches of `DENSE_BATCH`, the variants' batches taken in turn: a change of
    load on the machine meets them all alike."""
    wall = dict.fromkeys(texts, 0.0)
    cpu = dict.fromkeys(texts, 0.0)
    for start in range(0, max(map(len, texts.values())), DENSE_BATCH):
        for name, theirs in texts.items():
            if batch := theirs[start : start + DENSE_BATCH]:
                began, cpu_began = time.perf_counter(), time.process_time()
                embedder.embed(batch)
                wall[name] += time.perf_counter() - began
                cpu[name] += time.process_time() - cpu_began
    return {n: (len(texts[n]) / wall[n], cpu[n] * 1000 / len(texts[n])) for n in texts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--conversations", default="")
    parser.add_argument("--cache", default="", help="folder keeping embedded vectors")
    parser.add_argument("--runs", type=int, default=3, help="timing rounds over the variants")
    parser.add_argument("--only", default="", help="comma-separated variant names")
    args = parser.parse_args()
    # Measured at float32, as its timing below (the README table).
    args.embedder, args.misses, args.precision = "minilm", False, "float32"
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(VARIANTS)

    recall: dict[str, dict[str, dict[str, float | int | None]]] = {}
    texts: dict[str, list[str]] = {}
    for name in names:
        texts[name] = []
        print(f"--- {name}: {VARIANTS[name][0]}")
        recall[name] = asyncio.run(run(args, recording(VARIANTS[name][1], texts[name])))

    embedder = MiniLMEmbedder()
    embedder.embed(texts[names[0]][:64])  # warm caches and thread pools before timing
    rates: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.runs):
        for name, (rate, ms) in timed(embedder, texts).items():
            rates[name].append(rate)
            cpu[name].append(ms)

    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}; {embedder.name} ({embedder.engine}); "
        f"{len(texts[names[0]])} texts per variant, {args.runs} timing rounds"
    )
    # The cost ratio is of CPU time per text: wall time also counts what other work took.
    base = statistics.median(cpu[names[0]])
    heads = [CATEGORIES[c] for c in sorted(CATEGORIES)]
    print(
        f"{'variant':<12} {'all@10':>7} "
        + " ".join(f"{h[:11]:>11}" for h in heads)
        + f" {'pieces':>7} {'texts/s':>8} {'CPU ms':>7} {'speed-up':>9}"
    )
    for name in names:
        ms = statistics.median(cpu[name])
        row = recall[name]
        print(
            f"{name:<12} {row[OVERALL]['all@10']:>7.3f} "
            + " ".join(f"{row[str(c)]['all@10']:>11.3f}" for c in sorted(CATEGORIES))
            + f" {word_pieces(texts[name]):>7.1f} {statistics.median(rates[name]):>8.0f}"
            + f" {ms:>7.2f} {base / ms:>9.2f}"
        )


if __name__ == "__main__":
    main()
