"""Multi-hop recall: what linking memories at query time can bring, measured (#17).

The dev conversations are indexed in this process (bench/locomo_inprocess.py), then the
built-in synthesis reads every turn as the service does: the rules extractor
(`mnemo.synthesis.extractor`) and each subject's `Timeline`, in the conversation's order,
the speaker as `about`; what it decides (entity mentions, facts, corroborations) links
memories. Every question is then ranked by the service (the reference) and by variants
built on that ranking:

- entity-linked: the memories that mention an entity one of the top 5 hits mentions (all
  entities, or only those mentioned by at most 5 memories), in the order the query's own
  search (200 deep) gives them, inserted after rank 7 as session expansion inserts, or
  fused with the ranking by reciprocal rank (k = 60);
- query-named entities: the memories that mention an entity the question names (any, or
  rare), inserted after rank 7;
- fact-linked: the memories that said a fact one of the top 5 hits said (corroborations);
- decomposed: the question without its names and function words ("Which cities has John
  been to?" -> "cities"), searched on its own and fused by reciprocal rank, or only the
  fused list's best 3 beyond the head inserted after rank 7;
- session neighbours: the turn after each of the top 3 hits, inserted after rank 7;
- no session expansion (the service's constant off).

It prints how far links could reach at all (of the multi-hop evidence turns the service
misses at 10, how many carry an entity or a fact, and how many share one with the top 5
hits), then each variant through locomo_heldin's report: all@10 per category with a 95%
bootstrap interval, its paired difference from the service's ranking, and the
leave-one-conversation-out choice. Search ms are the service's search plus the variant's
own work, in process. Prints figures; asserts nothing.

Usage: python bench/locomo_linked.py [--cache DIR] [--conversations conv-26] [--json FILE]
"""

import argparse
import asyncio
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from locomo_data import Conversation
from locomo_heldin import report, variant
from locomo_inprocess import TENANT, Answer, arguments, envelope, indexed

from mnemo.contracts import (
    EntityExtracted,
    FactCorroborated,
    FactExtracted,
    MemoryRecorded,
    SearchQuery,
    derived_id,
)
from mnemo.contracts.speakers import speaker_of
from mnemo.retrieval.index import EXPAND_AT, MemoryIndex
from mnemo.retrieval.stores import StoreFilter
from mnemo.synthesis import extractor
from mnemo.synthesis.handlers import subject_key
from mnemo.synthesis.timeline import Timeline

SEEDS = 5  # top hits whose links are followed
RARE = 5  # an entity mentioned by at most this many memories is "rare"
DEEP = 200  # how deep the query's own search orders the linked memories
RRF_K = 60  # the textbook constant (mnemo.retrieval.fusion)
_FUNCTION_WORDS = set(
    (  # noqa: SIM905 (fifty one-word strings read worse as a list)
        "what which who whom whose when where why how is are was were do does did has have "
        "had the a an of to in on for with and or both been be by from at as that this these "
        "those can could would should will any some kind type types"
    ).split()
)


@dataclass
class Links:
    """What the built-in synthesis decided, by memory id."""

    entities: dict[str, set[str]]
    facts: dict[str, set[str]]
    names: dict[str, str]  # entity id -> its name as first said

    def mentions(self) -> Counter[str]:
        return Counter(e for found in self.entities.values() for e in found)


def synthesize(conversations: list[Conversation]) -> Links:
    """Each turn read by the rules and decided on its subject's timeline, in order, as
    synthesis does (`SynthesisHandlers._events`)."""
    links = Links({}, {}, {})
    for conv in conversations:
        timelines: dict[str, Timeline] = {}
        for n, turn in enumerate(conv.turns, start=1):
            e = envelope(conv, turn, n)
            memory = e.data
            assert isinstance(memory, MemoryRecorded)
            timeline = timelines.setdefault(
                memory.user_id, Timeline(subject_key(e.tenant_id, memory.user_id))
            )
            derived = timeline.decide(
                cause=e.event_id,
                memory_id=memory.memory_id,
                user_id=memory.user_id,
                at=e.occurred_at,
                found=extractor.extract(memory.content),
                agent_id=memory.agent_id,
                about=speaker_of(memory.metadata, memory.user_id).about,
            )
            entities = links.entities.setdefault(memory.memory_id, set())
            facts = links.facts.setdefault(memory.memory_id, set())
            for _, data in derived:
                if isinstance(data, EntityExtracted):
                    entities.add(data.entity.entity_id)
                    links.names.setdefault(data.entity.entity_id, data.entity.value)
                elif isinstance(data, FactExtracted):
                    facts.add(data.fact.fact_id)
                elif isinstance(data, FactCorroborated):
                    facts.add(data.fact_id)
    return links


def after_head(ranking: list[str], extra: Sequence[str], n: int = 3) -> list[str]:
    """The ranking's head (EXPAND_AT), then up to `n` of `extra` not in it, then the rest."""
    head = ranking[:EXPAND_AT]
    added = [m for m in extra if m not in head][:n]
    return head + added + [m for m in ranking[EXPAND_AT:] if m not in added]


def rrf(*rankings: Sequence[str]) -> list[str]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, m in enumerate(ranking, start=1):
            scores[m] = scores.get(m, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores, key=lambda m: -scores[m])


def without_names(question: str) -> str:
    """The question's content words: no function words, no capitalised word past the
    first (names), no possessive."""
    words = re.findall(r"[A-Za-z][\w'’-]*", question)
    return " ".join(
        w
        for i, w in enumerate(words)
        if w.lower() not in _FUNCTION_WORDS and not (i > 0 and w[:1].isupper())
    )


async def deep(index: MemoryIndex, user: str, text: str, limit: int) -> list[str]:
    """The memory ids of the query's hybrid search, `limit` deep (the index's own store)."""
    [dense] = await asyncio.to_thread(index.embedder.embed, [text])
    found = await index._store.search(  # the index's own store and encoder
        dense,
        index._sparse.query(text),
        StoreFilter(tenant_id=TENANT, user_id=user),
        limit,
        mode="hybrid",
    )
    return list(dict.fromkeys(h.payload["memory_id"] for h in found))


Variant = Callable[[list[str], str, str], Any]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with indexed(args) as (index, conversations):
        links = synthesize(conversations)
        mentions = links.mentions()
        dia = {derived_id(c.sample_id, t.dia_id): t.dia_id for c in conversations for t in c.turns}
        following = {}
        for c in conversations:
            ids = [derived_id(c.sample_id, t.dia_id) for t in c.turns]
            following.update(itertools.pairwise(ids))
        reach: Counter[str] = Counter()

        def linked(ranking: list[str], depth: list[str], rare: bool) -> list[str]:
            shared = {
                e
                for m in ranking[:SEEDS]
                for e in links.entities[m]
                if not rare or mentions[e] <= RARE
            }
            return [m for m in depth if m not in ranking[:SEEDS] and links.entities[m] & shared]

        def named(question: str, depth: list[str], rare: bool) -> list[str]:
            said = {
                e
                for e, name in links.names.items()
                if re.search(rf"\b{re.escape(name)}\b", question, re.IGNORECASE)
                and (not rare or mentions[e] <= RARE)
            }
            return [m for m in depth if links.entities[m] & said]

        def fact_linked(ranking: list[str], depth: list[str]) -> list[str]:
            shared = {f for m in ranking[:SEEDS] for f in links.facts[m]}
            return [m for m in depth if m not in ranking[:SEEDS] and links.facts[m] & shared]

        names = [
            "service ranking",
            "entity-linked, after rank 7",
            "rare-entity-linked, after rank 7",
            "entity-linked, RRF",
            "query-named entities, after rank 7",
            "query-named rare entities, after rank 7",
            "fact-linked, after rank 7",
            "decomposed (names out), RRF",
            "decomposed, RRF, after rank 7",
            "session neighbours, after rank 7",
            "no session expansion",
        ]
        results: dict[str, list[Answer]] = {n: [] for n in names}
        await index.search(SearchQuery(tenant_id=TENANT, user_id="warm-up", query="warm up"))
        for conv in conversations:
            user = f"u_{conv.sample_id}"
            for qa in conv.qa:
                if not qa.evidence:
                    continue
                query = SearchQuery(tenant_id=TENANT, user_id=user, query=qa.question, limit=50)
                t0 = time.perf_counter()
                ranking = [h.memory_id for h in await index.search(query)]
                base_ms = (time.perf_counter() - t0) * 1000
                t0 = time.perf_counter()
                depth = await deep(index, user, qa.question, DEEP)
                deep_ms = (time.perf_counter() - t0) * 1000

                def answer(
                    name: str, ranked: list[str], ms: float, qa: Any = qa, conv: Any = conv
                ) -> None:
                    results[name].append(Answer(conv.sample_id, qa, [dia[m] for m in ranked], ms))

                answer("service ranking", ranking, base_ms)
                t0 = time.perf_counter()
                by_entity = linked(ranking, depth, rare=False)
                link_ms = base_ms + deep_ms + (time.perf_counter() - t0) * 1000
                answer("entity-linked, after rank 7", after_head(ranking, by_entity), link_ms)
                answer(
                    "rare-entity-linked, after rank 7",
                    after_head(ranking, linked(ranking, depth, rare=True)),
                    link_ms,
                )
                answer("entity-linked, RRF", rrf(ranking, by_entity), link_ms)
                for name, rare in (
                    ("query-named entities", False),
                    ("query-named rare entities", True),
                ):
                    answer(
                        f"{name}, after rank 7",
                        after_head(ranking, named(qa.question, depth, rare)),
                        link_ms,
                    )
                answer(
                    "fact-linked, after rank 7",
                    after_head(ranking, fact_linked(ranking, depth)),
                    link_ms,
                )
                t0 = time.perf_counter()
                content = without_names(qa.question)
                sub = await deep(index, user, content, 50) if content else []
                answer(
                    "decomposed (names out), RRF",
                    rrf(ranking, sub) if sub else ranking,
                    base_ms + (time.perf_counter() - t0) * 1000,
                )
                fused = [m for m in rrf(ranking, sub) if m not in ranking[:EXPAND_AT]]
                answer(
                    "decomposed, RRF, after rank 7",
                    after_head(ranking, fused) if sub else ranking,
                    base_ms + (time.perf_counter() - t0) * 1000,
                )
                neighbours = [following[m] for m in ranking[:3] if m in following]
                answer("session neighbours, after rank 7", after_head(ranking, neighbours), base_ms)
                with variant({"index.EXPAND_SEEDS": 0}):
                    t0 = time.perf_counter()
                    plain = [h.memory_id for h in await index.search(query)]
                    answer("no session expansion", plain, (time.perf_counter() - t0) * 1000)
                if qa.category == 1:
                    top = set(ranking[:10])
                    seeds = ranking[:SEEDS]
                    seed_entities = {e for m in seeds for e in links.entities[m]}
                    seed_facts = {f for m in seeds for f in links.facts[m]}
                    for m in (derived_id(conv.sample_id, e) for e in qa.evidence):
                        if m in top:
                            continue
                        reach["missed at 10"] += 1
                        reach["not in the top 50"] += m not in ranking
                        reach["carry an entity"] += bool(links.entities[m])
                        reach["carry a fact"] += bool(links.facts[m])
                        shared = links.entities[m] & seed_entities
                        reach["share an entity with the top 5"] += bool(shared)
                        rare = any(mentions[e] <= RARE for e in shared)
                        reach[f"share one mentioned by <= {RARE} memories"] += rare
                        reach["share a fact with the top 5"] += bool(links.facts[m] & seed_facts)
    memories = len(links.entities)
    print(
        f"\nbuilt-in synthesis over {memories} turns: "
        f"{sum(1 for v in links.entities.values() if v)} mention an entity "
        f"({len(mentions)} entities; the 5 most mentioned: "
        f"{', '.join(str(c) for _, c in mentions.most_common(5))} memories each), "
        f"{sum(1 for v in links.facts.values() if v)} say a fact, "
        f"{sum(1 for c in Counter(f for v in links.facts.values() for f in v).values() if c > 1)}"
        " facts said in more than one memory"
    )
    print("multi-hop evidence turns the service's ranking misses at 10:")
    for what, count in reach.items():
        print(f"  {what:<40}{count:>5}")
    out = report(results)
    out["reach"] = dict(reach)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments(parser)
    parser.add_argument("--json", default="", help="write the figures here")
    args = parser.parse_args()
    out = asyncio.run(run(args))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
