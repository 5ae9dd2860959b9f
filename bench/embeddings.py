"""Sentences per second of an embedder on short, chat-like sentences, by batch size.

Prints figures; never asserts on them. The sentences are generated to look like LoCoMo
conversation turns (short, first person, names and small events), so the figure says
what ingesting a conversation costs. Usage:

    python bench/embeddings.py [--kind minilm|hashing] [--engine auto|onnx|numpy]
                               [--sentences 2000] [--runs 3]

A batch size of 1 is a caller embedding each turn as it arrives; 32 and 128 are callers
that collect turns first. Each figure is the median of `--runs` passes over all sentences.
"""

import argparse
import os
import platform
import random
import statistics
import time

from mnemo.embeddings import MiniLMEmbedder, embedder_from_settings

NAMES = ["Caroline", "Melanie", "Jon", "Gina", "Priya", "Tomás", "Aiko", "Sam"]
OPENERS = ["Hey {n}!", "Thanks, {n}.", "Wow {n},", "Oh {n},", "Honestly,", "So,", ""]
EVENTS = [
    "I went to a support group yesterday",
    "we painted a sunrise over the lake",
    "my kids loved the beach trip last weekend",
    "I just started a pottery class",
    "the adoption agency called me back",
    "I ran my first 10k on Saturday",
    "we finally opened the dance studio",
    "my grandma taught me her pie recipe",
    "I lost my job at the bank last month",
    "we camped in the mountains with the dog",
]
ENDINGS = [
    "and it was so powerful.",
    "and I can't stop thinking about it.",
    "— it really meant a lot to me.",
    "and we want to go again soon.",
    ". How have you been?",
    "and I took some photos!",
    ".",
]


def locomo_like(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(
            part
            for part in (
                rng.choice(OPENERS).format(n=rng.choice(NAMES)),
                rng.choice(EVENTS),
                rng.choice(ENDINGS),
            )
            if part
        )
        for _ in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="minilm")
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--engine", default="auto", help="MiniLM's runtime: onnx or numpy")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-sizes", default="1,32,128")
    args = parser.parse_args()
    sentences = locomo_like(args.sentences)
    embedder = (
        MiniLMEmbedder(engine=args.engine)
        if args.kind == "minilm"
        else embedder_from_settings(args.kind)
    )
    embedder.embed(sentences[:64])  # warm caches and thread pools before timing
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}; embedder {embedder.name} ({embedder.dim}-d"
        + (f", {embedder.engine}" if isinstance(embedder, MiniLMEmbedder) else "")
        + ")"
    )
    print(f"{len(sentences)} sentences, {sum(map(len, sentences)) / len(sentences):.0f} chars avg")
    for batch in (int(size) for size in args.batch_sizes.split(",")):
        rates = []
        for _ in range(args.runs):
            started = time.perf_counter()
            for start in range(0, len(sentences), batch):
                embedder.embed(sentences[start : start + batch])
            rates.append(len(sentences) / (time.perf_counter() - started))
        print(
            f"batch {batch:>4}: {statistics.median(rates):8.1f} sentences/s "
            f"(runs: {', '.join(f'{rate:.0f}' for rate in rates)})"
        )


if __name__ == "__main__":
    main()
