"""LLM query rewriting for LoCoMo evidence recall, in this process: does asking the model
for other ways to search (sub-questions; a message that would answer) find evidence a
plain search misses? Measured on a subset (a model call takes seconds here).

Each question is searched as it is, then each rewrite is searched too and the lists are
fused by reciprocal rank fusion (the index's own fusion constant). Prints all@10 per
variant and category as bench/locomo_heldin.py does (intervals, paired differences from
the service's ranking, leave one conversation out). Asserts nothing.

Usage: python bench/locomo_llm_queries.py [--per-category 10] [--categories 1,4,5]
       [--llm-url URL --llm-model M]   (default: the bundled local model)
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
from local_stack import machine, start_local_model
from locomo_heldin import report
from locomo_inprocess import Answer, arguments, indexed
from locomo_speakers import rrf, search

PROMPT = (
    "You help search a long chat history between two people for what answers a question. "
    "Write up to 3 short search queries, each for one thing the answer may rest on (a "
    "question about several things or times gets one query for each), and up to 2 short "
    "chat messages, in the first person, that someone in the chat might have written that "
    "would answer the question. Answer in JSON."
)
SCHEMA = {
    "type": "object",
    "properties": {
        "queries": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "messages": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    },
    "required": ["queries", "messages"],
}


async def rewrite(client: httpx.AsyncClient, model: str, question: str) -> dict[str, list[str]]:
    body = {
        "model": model,
        "temperature": 0,
        "max_tokens": 160,
        "messages": [
            {"role": "system", "content": PROMPT},
            {"role": "user", "content": f"Question: {question}"},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "rewrites", "schema": SCHEMA},
        },
    }
    response = await client.post("/v1/chat/completions", json=body, timeout=300)
    response.raise_for_status()
    text = response.json()["choices"][0]["message"]["content"]
    try:
        found = json.loads(text)
    except ValueError:
        return {"queries": [], "messages": []}
    return {
        key: [str(s) for s in found.get(key, []) if str(s).strip()][:3]
        for key in ("queries", "messages")
    }


async def main_async(args: argparse.Namespace) -> None:
    wanted = {int(c) for c in args.categories.split(",")}
    results: dict[str, list[Answer]] = defaultdict(list)
    seconds = []
    with tempfile.TemporaryDirectory(prefix="mnemo-llmq-") as tmp:
        server = None
        if args.llm_url:
            url, model = args.llm_url, args.llm_model
        else:
            server, url, model = start_local_model(Path(tmp), args.models_dir)
        try:
            async with (
                indexed(args) as (index, convs),
                httpx.AsyncClient(base_url=url.removesuffix("/v1")) as client,
            ):
                for conv in convs:
                    taken: dict[int, int] = defaultdict(int)
                    for qa in conv.qa:
                        if not qa.evidence or qa.category not in wanted:
                            continue
                        if taken[qa.category] >= args.per_category:
                            continue
                        taken[qa.category] += 1
                        plain = await search(index, conv, qa.question, 40)
                        t0 = time.perf_counter()
                        rewrites = await rewrite(client, model, qa.question)
                        seconds.append(time.perf_counter() - t0)
                        queries = [await search(index, conv, q, 40) for q in rewrites["queries"]]
                        said = [await search(index, conv, m, 40) for m in rewrites["messages"]]
                        variants = {
                            "service": plain,
                            "+ sub-queries": rrf(plain, *queries),
                            "+ answering messages": rrf(plain, *said),
                            "+ both": rrf(plain, *queries, *said),
                            "+ both, service x2": rrf(plain, plain, *queries, *said),
                        }
                        for name, ranked in variants.items():
                            results[name].append(Answer(conv.sample_id, qa, ranked, 0.0))
                        if args.show:
                            print(qa.question, json.dumps(rewrites), flush=True)
        finally:
            if server is not None:
                server.stop()
    print(machine())
    seconds.sort()
    print(
        f"model: {model}, a call's median {seconds[len(seconds) // 2]:.1f} s ({len(seconds)} calls)"
    )
    report(dict(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments(parser)
    parser.add_argument("--per-category", type=int, default=10)
    parser.add_argument("--categories", default="1,2,4,5")
    parser.add_argument("--llm-url", default="")
    parser.add_argument("--llm-model", default="")
    parser.add_argument("--models-dir", default=str(Path.home() / ".cache" / "mnemo" / "models"))
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
