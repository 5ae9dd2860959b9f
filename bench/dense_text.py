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

With `--embedder a,b,...` the rows are embedders instead (bench/embedders.py: `minilm`,
the service's int8 MiniLM, first as the reference; `minilm-f32`, `l3`, `l3-int8`,
`static64`, `minilm+prev`), each embedding the default text (`minilm+prev`: the "headed"
text plus the previous turn's vector); the cost is each one's CPU time on the texts it
embeds. The candidates need `uv sync --group bench`.

Usage: python bench/dense_text.py [--cache DIR] [--runs 3] [--conversations conv-26]
                                  [--embedder minilm,l3,l3-int8,static64,minilm+prev]
"""

import argparse
import asyncio
import os
import platform
import re
import statistics
import time
from collections.abc import Callable

from embedders import SEP, WithPrevious, make, own_and_prev
from locomo_data import CATEGORIES
from locomo_inprocess import DEFAULT_DATA, run
from locomo_metrics import OVERALL
from tokenizers import Tokenizer

from mnemo.embeddings import Embedder, MiniLMEmbedder
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


def timed(
    embedders: dict[str, Embedder], texts: dict[str, list[str]]
) -> dict[str, tuple[float, float]]:
    """By variant, (texts/s, CPU ms per text over every thread of this process) its
    embedder embedding its texts in batches of `DENSE_BATCH`, the variants' batches taken
    in turn: a change of load on the machine meets them all alike."""
    wall = dict.fromkeys(texts, 0.0)
    cpu = dict.fromkeys(texts, 0.0)
    for start in range(0, max(map(len, texts.values())), DENSE_BATCH):
        for name, theirs in texts.items():
            if batch := theirs[start : start + DENSE_BATCH]:
                began, cpu_began = time.perf_counter(), time.process_time()
                embedders[name].embed(batch)
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
    parser.add_argument("--embedder", default="", help="compare embedders instead (above)")
    args = parser.parse_args()
    # Measured at float32, as its timing below (the README table).
    args.misses, args.precision = False, "float32"
    recall: dict[str, dict[str, dict[str, float | int | None]]] = {}
    texts: dict[str, list[str]] = {}
    embedders: dict[str, Embedder] = {}
    if args.embedder:
        names = [n.strip() for n in args.embedder.split(",") if n.strip()]
        for name in names:
            embedder = embedders[name] = make(name)
            texts[name] = []
            print(f"--- {name}: {embedder.name}")
            if isinstance(embedder, WithPrevious):
                recall[name] = asyncio.run(
                    run(args, recording(own_and_prev(headed), texts[name]), embedder)
                )
                # Its cost: the model on each turn's own text (the previous turn's vector
                # is reused); timed on the model alone.
                texts[name] = [t.split(SEP)[0] for t in texts[name]]
                embedders[name] = embedder.inner
            else:
                recall[name] = asyncio.run(run(args, recording(dense_text, texts[name]), embedder))
        described = "embedders as listed"
    else:
        args.embedder = "minilm"
        names = [n.strip() for n in args.only.split(",") if n.strip()] or list(VARIANTS)
        for name in names:
            texts[name] = []
            print(f"--- {name}: {VARIANTS[name][0]}")
            recall[name] = asyncio.run(run(args, recording(VARIANTS[name][1], texts[name])))
        minilm = MiniLMEmbedder()
        embedders = dict.fromkeys(names, minilm)
        described = f"{minilm.name} ({minilm.engine})"

    for name in names:  # warm caches and thread pools before timing
        embedders[name].embed(texts[name][:64])
    rates: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.runs):
        for name, (rate, ms) in timed(embedders, texts).items():
            rates[name].append(rate)
            cpu[name].append(ms)

    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}; {described}; "
        f"{len(texts[names[0]])} texts per row, {args.runs} timing rounds"
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
