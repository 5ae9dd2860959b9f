"""Who said it: what weighting a search toward the person a question names buys on LoCoMo,
and what it costs. In this process; prints figures, asserts nothing.

First, how often the evidence was said by the one speaker the question names, per
category (LoCoMo's questions name a speaker; its adversarial ones name the wrong one on
purpose). Then two ways of leaning toward that speaker, each fused by reciprocal rank
fusion (the index's constant) with the service's own ranking and reported as
bench/locomo_heldin.py reports variants (intervals, paired differences, leave one
conversation out):

- "named speaker's turns": the same search, 200 deep, keeping the turns of the speaker the
  question names (what a search filtered on the memory's author would return);
- "sentences, with speaker": each turn's sentences embedded apart as "<speaker>: <sentence>",
  a turn scoring its best sentence (the list fused with the service's counted twice).

(The variants are fused lists, not timed searches: their p50/p95 columns read 0.)

Usage: python bench/locomo_speakers.py [--cache DIR] [--conversations conv-26]
"""

import argparse
import asyncio
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from locomo_data import CATEGORIES, Conversation
from locomo_heldin import report
from locomo_inprocess import Answer, CachedEmbedder, arguments, indexed

from mnemo.contracts import SearchQuery
from mnemo.embeddings import embedder_from_settings
from mnemo.retrieval.fusion import FUSION_K
from mnemo.retrieval.index import MemoryIndex

DEPTH = 40
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def rrf(*lists: list[str], k: int = FUSION_K) -> list[str]:
    """Reciprocal rank fusion of ranked ids (a list given twice counts twice)."""
    score: dict[str, float] = defaultdict(float)
    for ranked in lists:
        for rank, item in enumerate(ranked, 1):
            score[item] += 1.0 / (k + rank)
    return sorted(score, key=lambda i: -score[i])


def named(conv: Conversation, question: str) -> str | None:
    """The one speaker of the conversation the question names, if exactly one."""
    words = set(re.findall(r"[a-z]+", question.lower()))
    found = {t.speaker for t in conv.turns if t.speaker.lower() in words}
    return found.pop() if len(found) == 1 else None


def sentence_vectors(conv: Conversation, embed: CachedEmbedder) -> tuple[np.ndarray, list[str]]:
    texts, owners = [], []
    for turn in conv.turns:
        parts = [s for s in SENTENCE.split(turn.content.strip()) if len(s.split()) >= 3]
        for part in parts or [turn.content]:
            texts.append(f"{turn.speaker}: {part}")
            owners.append(turn.dia_id)
    return np.asarray(embed.embed(texts), dtype=np.float32), owners


async def search(index: MemoryIndex, conv: Conversation, question: str, limit: int) -> list[str]:
    query = SearchQuery(
        tenant_id="t_locomo", user_id=f"u_{conv.sample_id}", query=question, limit=limit
    )
    return list(dict.fromkeys(h.metadata["dia_id"] for h in await index.search(query)))


async def run(args: argparse.Namespace) -> None:
    embedder = embedder_from_settings(args.embedder, precision=args.precision)
    embed = CachedEmbedder(embedder, Path(args.cache or "bench/results/vectors"))
    results: dict[str, list[Answer]] = defaultdict(list)
    said: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # category: [by named, all]
    async with indexed(args) as (index, conversations):
        for conv in conversations:
            speaker = {t.dia_id: t.speaker for t in conv.turns}
            vectors, owners = sentence_vectors(conv, embed)
            for qa in conv.qa:
                if not qa.evidence:
                    continue
                person = named(conv, qa.question)
                if person is not None:
                    counts = said[CATEGORIES[qa.category]]
                    counts[0] += sum(speaker.get(e) == person for e in qa.evidence)
                    counts[1] += len(qa.evidence)
                plain = await search(index, conv, qa.question, DEPTH)
                theirs = []
                if person is not None:
                    deep = await search(index, conv, qa.question, 200)
                    theirs = [d for d in deep if speaker.get(d) == person][:DEPTH]
                [q] = embed.embed([qa.question])
                sims = vectors @ np.asarray(q, dtype=np.float32)
                best: list[str] = []
                for i in np.argsort(-sims):
                    if owners[i] not in best:
                        best.append(owners[i])
                    if len(best) == DEPTH:
                        break
                variants = {
                    "service": plain,
                    "named speaker's turns": rrf(plain, theirs),
                    "sentences, with speaker": rrf(plain, plain, best),
                }
                for name, ranked in variants.items():
                    results[name].append(Answer(conv.sample_id, qa, ranked, 0.0))
    embed.save()
    print("evidence turns said by the one speaker the question names:")
    for category, (mine, total) in said.items():
        print(f"  {category:<12} {mine}/{total} = {mine / max(total, 1):.2f}")
    report(dict(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments(parser)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
