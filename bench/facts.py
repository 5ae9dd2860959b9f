"""Facts against what people said: each LoCoMo dev conversation through the public API,
then its facts scored against the gold observations, per speaker (issue #20).

LoCoMo's `observation` lists, per session and speaker, what the conversation says about
that person ("Caroline attended an LGBTQ support group recently ...", with its evidence
turn). Each turn is ingested with `metadata.author` (its speaker); synthesis decides whom
each fact is about. Scored, per conversation and overall:

- recall: a gold observation is covered when a fact *about the same person* states it:
  cosine similarity of all-MiniLM-L6-v2 embeddings of the fact's statement and the
  observation, both without the speakers' names (whom it is about is checked apart), at or
  above --threshold. 0.5 by default, set by reading the 60 pairs nearest 0.55 on conv-26
  (`--show-pairs 60` prints them): from 0.5 up most pairs state the same thing, below 0.45
  most share only a topic;
- precision (observations): the share of facts that a gold observation of their person
  states (same test) — a lower bound: LoCoMo's observations do not list everything said;
- precision, labelled: the same, where a fact no observation states counts as right when
  its hand label (facts_labels.yaml: right, other or wrong, read in the transcript) says
  so; facts with neither are counted wrong and their number is printed (`--show-unlabelled`
  lists them, in the labels' shape, to be read and labelled);
- attribution: of the facts about someone (matching an observation of either speaker, or
  labelled right or other), the share about the right person: an observation of their own
  person states it, or their label says so. A fact both people share ("loves volunteering",
  said by both, observed of one) is right for the one who said it; one that only the other
  speaker's observations state (or labelled other) is wrong. The earlier yardstick, the
  nearest observation's speaker, is printed under the table for comparison: it counts a
  shared fact wrong whenever the other person's observation is a little nearer;
- entity recall: proper names in the observations (capitalised words, not the speakers,
  not months or days) found among /v1/entities' names — an approximation of "the people,
  pets and places named";
- time per memory: from the first ingest to an empty synthesis backlog, per turn.

Usage: `make bench-facts` (rules), `make bench-facts BENCH_ARGS="--extractor llm
--conversations conv-26 --sessions 2"` (the local model; it reads about 4-7 tokens/s
here, so give it a small slice). The data (snap-research/LoCoMo) is CC BY-NC 4.0.
"""

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml
from local_stack import describe, local_stack, machine, start_local_model
from locomo import call
from locomo_data import Conversation, parse_conversation

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/locomo/locomo_dev.json"
RESULTS = Path(__file__).resolve().parent / "results"
FACT_LABELS = Path(__file__).resolve().parent / "facts_labels.yaml"
VERDICTS = {"right", "other", "wrong"}
_MONTHS = "January February March April May June July August September October November December"
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday"
NOT_NAMES = {
    *_MONTHS.split(),
    *_DAYS.split(),
    "I", "The", "A", "An", "She", "He", "They", "Her", "His", "Their", "It", "This", "That",
}  # fmt: skip
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")


def observations(sample: dict[str, Any], sessions: int | None) -> list[dict[str, str]]:
    """The gold: one entry per observation, with its speaker, text and evidence turn."""
    out = []
    for key, by_speaker in sample.get("observation", {}).items():
        number = int(re.findall(r"\d+", key)[0])
        if sessions is not None and number > sessions:
            continue
        for speaker, items in by_speaker.items():
            for item in items:
                text, evidence = item[0], item[1] if len(item) > 1 else ""
                out.append({"speaker": speaker, "text": text, "evidence": str(evidence)})
    return out


def gold_names(gold: list[dict[str, str]], speakers: tuple[str, str], transcript: str) -> set[str]:
    """Proper names in the observations: capitalised mid-sentence, and never written in
    lower case in the conversation ("Dancing" starts a sentence, "Pepper" names a dog)."""
    names = set()
    skip = {s.casefold() for s in speakers} | {n.casefold() for n in NOT_NAMES}
    lower = set(re.findall(r"\b[a-z]+\b", transcript))
    for g in gold:
        text = g["text"]
        for match in _NAME.finditer(text):
            before = text[: match.start()].rstrip()
            if not before or before[-1] in '.!?:"(':
                continue  # a sentence's first word
            words = [w for w in match.group(0).split() if w.casefold() not in skip]
            if words and not (len(words) == 1 and words[0].lower() in lower):
                names.add(" ".join(words))
    return names


async def ingest(client: httpx.AsyncClient, conv: Conversation, user: str, sessions: int | None):
    turns = [t for t in conv.turns if sessions is None or t.session <= sessions]
    items = [t.ingest_item(user) for t in turns]
    for start in range(0, len(items), 50):
        await call(client, "POST", "/v1/ingest/batch", json={"items": items[start : start + 50]})
    return turns


async def wait_synthesized(
    client: httpx.AsyncClient, want: dict[str, int], llm: bool, timeout: float
) -> bool:
    """Every turn recorded, and synthesis with nothing left to read (rules, and the model)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = {}
        for user in want:
            page = await call(client, "GET", "/v1/memories", params={"userId": user, "limit": 1})
            counts[user] = page.json()["total"]
        health = (await client.get("/v1/health")).json()
        backlog = health.get("services", {}).get("synthesis", {}).get("backlog", {})
        left = backlog.get("rules", 1) + (backlog.get("llm", 1) if llm else 0)
        if counts == want and left == 0:
            return True
        await asyncio.sleep(2)
    return False


async def collect(client: httpx.AsyncClient, user: str) -> dict[str, Any]:
    every = {"userId": user, "changedSince": "1970-01-01"}
    facts = (await call(client, "GET", "/v1/facts", params=every)).json()["facts"]
    entities = (await client.get("/v1/entities", params={"userId": user})).json()
    memories: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        params = {"userId": user, "limit": 100, "offset": offset}
        page = (await call(client, "GET", "/v1/memories", params=params)).json()
        for m in page["memories"]:
            memories[m["id"]] = m
        offset += len(page["memories"])
        if not page["memories"] or offset >= page["total"]:
            break
    return {"facts": facts, "entities": entities.get("entities", []), "memories": memories}


def _unnamed(text: str, names: tuple[str, str]) -> str:
    for name in names:
        text = re.sub(rf"\b{re.escape(name)}('s)?\b", "", text)
    return " ".join(text.split())


def _overlap(name: str, entity: str) -> bool:
    return bool(entity) and (name in entity or entity in name)


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").casefold() == (b or "").casefold()


def load_labels(path: Path) -> dict[tuple[str, str, str], str]:
    """Hand labels (FACT_LABELS): (conversation, person, statement) -> right, other or wrong."""
    if not path.exists():
        return {}
    entries = yaml.safe_load(path.read_text()).get("labels") or []
    labels = {}
    for e in entries:
        if e["label"] not in VERDICTS:
            raise ValueError(f"{path}: label {e['label']!r} is none of {sorted(VERDICTS)}")
        labels[(e["conversation"], e["about"].casefold(), e["statement"])] = e["label"]
    return labels


def score(
    conv: Conversation,
    gold: list[dict[str, str]],
    got: dict[str, Any],
    embed: Any,
    threshold: float,
    pairs: list[tuple[float, str, str]],
    labels: dict[tuple[str, str, str], str] | None = None,
) -> dict[str, Any]:
    facts = got["facts"]
    labels = labels or {}
    # Compared without the person's name: whom it is about is checked apart (an own
    # observation), and the name in both texts would make any two of them look alike.
    fact_texts = [f["statement"] for f in facts]
    gold_texts = [_unnamed(g["text"], conv.speakers) for g in gold]
    sims = np.zeros((len(facts), len(gold)), dtype=np.float32)
    if facts and gold:
        fv = np.asarray(embed(fact_texts), dtype=np.float32)
        gv = np.asarray(embed(gold_texts), dtype=np.float32)
        sims = fv @ gv.T
    same = np.array(
        [[_same(f["about"], g["speaker"]) for g in gold] for f in facts], dtype=bool
    ).reshape(len(facts), len(gold))
    own = np.where(same, sims, -1.0)
    covered = int((own.max(axis=0) >= threshold).sum()) if facts else 0
    stated = (own.max(axis=1) >= threshold) if facts else np.zeros(0, dtype=bool)
    matched = sims.max(axis=1) >= threshold if facts else np.zeros(0, dtype=bool)
    nearest = [
        _same(facts[i]["about"], gold[int(sims[i].argmax())]["speaker"])
        for i in range(len(facts))
        if matched[i]
    ]
    label = [
        labels.get((conv.sample_id, str(f["about"] or "").casefold(), f["statement"]))
        for f in facts
    ]
    # Correct: an observation of its person states it, or (no observation does) its hand
    # label says the transcript does. Unlabelled facts no observation states count as wrong.
    correct = [bool(stated[i]) or label[i] == "right" for i in range(len(facts))]
    unlabelled = sum(1 for i in range(len(facts)) if not stated[i] and label[i] is None)
    # Attribution: of the facts about someone (matching an observation of either person, or
    # labelled right or other), the share about the right one: an observation of their own
    # person states it, or their label says so; matching only the other person's is wrong.
    right = []
    for i in range(len(facts)):
        if stated[i] or label[i] in ("right", "other"):
            right.append(bool(stated[i]) or label[i] == "right")
        elif label[i] is None and matched[i]:
            right.append(False)
    detail = []
    for i in range(len(facts)):
        if gold:
            j = int(own[i].argmax())
            pairs.append((float(own[i, j]), fact_texts[i], gold_texts[j]))
            k = int(sims[i].argmax())
            detail.append(
                {
                    "statement": fact_texts[i],
                    "about": facts[i]["about"],
                    "said": _said(facts[i], got["memories"]),
                    "own": [round(float(own[i, j]), 3), gold[j]["text"]],
                    "nearest": [round(float(sims[i, k]), 3), gold[k]["speaker"], gold[k]["text"]],
                    "stated": bool(stated[i]),
                    "label": label[i],
                }
            )
    names = gold_names(gold, conv.speakers, " ".join(t.text for t in conv.turns))
    entity_names = [e.get("name", "").casefold() for e in got["entities"]]
    found = {n for n in names if any(_overlap(n.casefold(), x) for x in entity_names)}
    return {
        "observations": len(gold),
        "facts": len(facts),
        "recall": covered / len(gold) if gold else 0.0,
        "precision": float(stated.mean()) if facts else 0.0,
        "precision_labelled": float(np.mean(correct)) if facts else 0.0,
        "unlabelled": unlabelled,
        "attribution": float(np.mean(right)) if right else None,
        "attributed_facts": len(right),
        "attribution_nearest": float(np.mean(nearest)) if nearest else None,
        "nearest_facts": len(nearest),
        "entity_names": len(names),
        "entity_recall": len(found) / len(names) if names else 0.0,
        "people": sorted({str(f["about"]) for f in facts}),
        "names": sorted(names),
        "entities": sorted(set(entity_names)),
        "detail": detail,
    }


def _said(fact: dict[str, Any], memories: dict[str, dict[str, Any]]) -> str:
    """The memory a fact was first read from, its span in [[ ]]."""
    for evidence in fact.get("evidence") or []:
        memory = memories.get(evidence.get("memoryId", ""))
        if memory:
            text = str(memory.get("content", ""))
            span = evidence.get("span")
            if not span:
                return text
            return f"{text[: span[0]]}[[{text[span[0] : span[1]]}]]{text[span[1] :]}"
    return ""


def row(name: str, r: dict[str, Any]) -> str:
    attribution = f"{r['attribution']:.2f}" if r["attribution"] is not None else "-"
    return (
        f"| {name} | {r['observations']} | {r['facts']} | {r['recall']:.3f} | {r['precision']:.2f} "
        f"| {r['precision_labelled']:.2f} ({r['unlabelled']}) "
        f"| {attribution} ({r['attributed_facts']}) "
        f"| {r['entity_recall']:.2f} of {r['entity_names']} |"
    )


HEADER = (
    "| conversation | observations | facts | recall | precision (observations) "
    "| precision, labelled (unlabelled) | attribution (facts) | entity recall |\n"
    "|---|---|---|---|---|---|---|---|"
)


async def run(args: argparse.Namespace, base: str, key: str) -> dict[str, Any]:
    from mnemo.embeddings import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    labels = load_labels(Path(args.labels))
    raw = json.loads(args.raw_text)
    wanted = set(args.conversations.split(",")) if args.conversations else None
    samples = [s for s in raw if wanted is None or s["sample_id"] in wanted]
    headers = {"Authorization": f"Bearer {key}"}
    tag = os.urandom(3).hex()
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        users, turns = {}, {}
        start = time.perf_counter()
        for sample in samples:
            conv = parse_conversation(sample)
            users[sample["sample_id"]] = f"facts-{sample['sample_id']}-{tag}"
            turns[sample["sample_id"]] = await ingest(
                client, conv, users[sample["sample_id"]], args.sessions
            )
        want = {users[s]: len(t) for s, t in turns.items()}
        done = await wait_synthesized(client, want, args.extractor == "llm", args.timeout)
        seconds = time.perf_counter() - start
        rows: dict[str, dict[str, Any]] = {}
        model_rows: dict[str, dict[str, Any]] = {}
        pairs: list[tuple[float, str, str]] = []
        for sample in samples:
            conv = parse_conversation(sample)
            gold = observations(sample, args.sessions)
            got = await collect(client, users[sample["sample_id"]])
            rows[sample["sample_id"]] = score(
                conv, gold, got, embedder.embed, args.threshold, pairs, labels
            )
            if args.extractor == "llm":
                # The model's own facts: those it stated first (a rule fact it only said
                # again keeps the rules' name, so this row is a lower bound of its recall).
                own = {**got, "facts": [f for f in got["facts"] if _by_model(f)]}
                model_rows[sample["sample_id"]] = score(
                    conv, gold, own, embedder.embed, args.threshold, [], labels
                )
    memories = sum(want.values())
    return {
        "started_at": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "machine": machine(),
        "settings": {
            "extractor": args.extractor,
            "llm_batch": args.llm_batch,
            "threshold": args.threshold,
            "sessions": args.sessions,
            "conversations": [s["sample_id"] for s in samples],
        },
        "complete": done,
        "memories": memories,
        "seconds": round(seconds, 1),
        "ms_per_memory": round(1000 * seconds / max(1, memories), 1),
        "rows": rows,
        "overall": total(rows),
        "model_rows": model_rows,
        "model_overall": total(model_rows) if model_rows else None,
        "pairs": sorted(pairs, reverse=True),
    }


def _by_model(fact: dict[str, Any]) -> bool:
    return str(fact.get("extractor") or "").startswith("llm:")


def total(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The rows summed: rates weighted by what each is a share of."""
    n_gold = sum(r["observations"] for r in rows.values())
    n_facts = sum(r["facts"] for r in rows.values())
    n_attr = sum(r["attributed_facts"] for r in rows.values())
    n_near = sum(r["nearest_facts"] for r in rows.values())
    n_names = sum(r["entity_names"] for r in rows.values())
    return {
        "observations": n_gold,
        "facts": n_facts,
        "recall": sum(r["recall"] * r["observations"] for r in rows.values()) / max(1, n_gold),
        "precision": sum(r["precision"] * r["facts"] for r in rows.values()) / max(1, n_facts),
        "precision_labelled": sum(r["precision_labelled"] * r["facts"] for r in rows.values())
        / max(1, n_facts),
        "unlabelled": sum(r["unlabelled"] for r in rows.values()),
        "attribution": (
            sum((r["attribution"] or 0) * r["attributed_facts"] for r in rows.values()) / n_attr
            if n_attr
            else None
        ),
        "attributed_facts": n_attr,
        "attribution_nearest": (
            sum((r["attribution_nearest"] or 0) * r["nearest_facts"] for r in rows.values())
            / n_near
            if n_near
            else None
        ),
        "nearest_facts": n_near,
        "entity_names": n_names,
        "entity_recall": sum(r["entity_recall"] * r["entity_names"] for r in rows.values())
        / max(1, n_names),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--conversations", default="", help="sample ids, comma-separated")
    parser.add_argument("--sessions", type=int, default=None, help="the first N sessions only")
    parser.add_argument("--extractor", choices=("rules", "llm"), default="rules")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--show-pairs", type=int, default=0, help="print N pairs around it")
    parser.add_argument("--labels", default=str(FACT_LABELS), help="hand labels of facts")
    parser.add_argument(
        "--show-unlabelled", action="store_true", help="print the facts to label by hand"
    )
    parser.add_argument("--llm-url")
    parser.add_argument("--llm-model", default="")
    parser.add_argument(
        "--llm-batch", type=int, default=None, help="MNEMO_LLM_BATCH: memories a model call"
    )
    parser.add_argument(
        "--models-dir", default=str(Path.home() / ".cache" / "mnemo-bench" / "models")
    )
    args = parser.parse_args()
    args.raw_text = Path(args.data).read_text()
    with tempfile.TemporaryDirectory(prefix="mnemo-facts-llm-") as tmp:
        server = None
        if args.extractor == "llm":
            if args.llm_url:
                url, name = args.llm_url, args.llm_model
            else:
                server, url, name = start_local_model(Path(tmp), args.models_dir)
            os.environ.update(
                MNEMO_LLM_URL=url,
                MNEMO_LLM_MODEL=name,
                MNEMO_LLM_TIMEOUT="600",
                MNEMO_LLM_CONCURRENCY="1",
                MNEMO_LLM_TENANT_BUDGET="0",
            )
            if args.llm_batch is not None:
                os.environ["MNEMO_LLM_BATCH"] = str(args.llm_batch)
        try:
            with local_stack("mnemo-bench-facts-") as stack:
                result = asyncio.run(run(args, stack.base_url, stack.api_key))
        finally:
            if server is not None:
                server.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"facts-{args.extractor}-{result['started_at']}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    if args.show_pairs:
        near = sorted(result["pairs"], key=lambda p: abs(p[0] - args.threshold))
        for sim, fact, obs in near[: args.show_pairs]:
            print(f"{sim:.2f}  {fact}  <->  {obs}")
    print(f"\nmachine: {describe(result['machine'])}")
    print(
        f"extractor: {args.extractor}; {result['memories']} memories in {result['seconds']} s "
        f"({result['ms_per_memory']} ms per memory, ingest to synthesized); "
        f"threshold {args.threshold}; complete: {result['complete']}"
    )
    if args.show_unlabelled:
        for name, r in result["rows"].items():
            for f in r["detail"]:
                if not f["stated"] and f["label"] is None:
                    print(
                        f"- {{conversation: {name}, about: {f['about']}, "
                        f"statement: {json.dumps(f['statement'])}, label: ?}}"
                    )
                    print(f"  # said: {f['said']}")
    print(HEADER)
    for name, r in result["rows"].items():
        print(row(name, r))
    print(row("overall", result["overall"]))
    near = result["overall"]["attribution_nearest"]
    if near is not None:
        print(
            f"attribution as the nearest observation's speaker (the earlier yardstick): "
            f"{near:.2f} ({result['overall']['nearest_facts']})"
        )
    if result["model_overall"] is not None:
        print("\nthe model's own facts (extractor llm:*, not the rules' facts it said again):")
        print(HEADER)
        for name, r in result["model_rows"].items():
            print(row(name, r))
        print(row("overall", result["model_overall"]))
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
