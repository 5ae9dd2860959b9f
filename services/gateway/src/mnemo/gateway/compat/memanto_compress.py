"""MEMANTO's `context/compress` of a conversation (seed 004, "Compress conversation
history"): the newest messages whole, the older ones' informative sentences in one
summary message, within a token budget.

It runs on the event loop, on bodies of up to MNEMO_MAX_BODY_BYTES (6 MiB), so it is
linear in the text: the summary's length is kept as a running count, never measured by
joining what is kept so far (which made every sentence cost the whole summary: seconds
for a few hundred KB, with every other request of the gateway waiting).
"""

import re
from typing import Any

from mnemo.gateway.answering import SENTENCE
from mnemo.gateway.compat.memanto_inputs import count_of, refused
from mnemo.redaction import redact

# A sentence that carries a fact: a number, a name, a first-person statement.
INFORMATIVE = re.compile(r"\d|\b[A-Z][a-z]+\b|\b(I|my|we|our)\b")
SUMMARY_PREFIX = "Earlier in this conversation:"


def tokens_in(chars: int) -> int:
    """About four characters a token for English; no tokenizer is loaded in the gateway."""
    return max(1, (chars + 3) // 4)


def approx_tokens(text: str) -> int:
    return tokens_in(len(text))


def compress(messages: list[dict[str, str]], budget: int) -> tuple[list[dict[str, str]], int, int]:
    """Keep the newest messages whole while they fit half the budget; of the older ones
    keep the sentences that carry facts (numbers, names, first-person statements) in a
    summary message; system messages stay. Returns the messages, and the tokens before
    and after."""
    original = sum(approx_tokens(m["content"]) for m in messages)
    system = [m for m in messages if m["role"] == "system"]
    rest = [m for m in messages if m["role"] != "system"]
    spent = sum(approx_tokens(m["content"]) for m in system)
    recent: list[dict[str, str]] = []  # newest first until reversed below
    for message in reversed(rest):
        cost = approx_tokens(message["content"])
        if spent + cost > budget // 2 and recent:
            break
        recent.append(message)
        spent += cost
    recent.reverse()
    older = rest[: len(rest) - len(recent)]
    kept: list[str] = []
    length = len(SUMMARY_PREFIX)  # of " ".join([SUMMARY_PREFIX, *kept])
    for message in older:
        for sentence in SENTENCE.split(message["content"]):
            if not INFORMATIVE.search(sentence):
                continue
            line = f"{message['role']}: {sentence.strip()}"
            longer = length + 1 + len(line)
            if spent + tokens_in(longer) <= budget:
                kept.append(line)
                length = longer
    summary = [{"role": "system", "content": " ".join([SUMMARY_PREFIX, *kept])}] if kept else []
    result = system + summary + recent
    return result, original, sum(approx_tokens(m["content"]) for m in result)


def compressed_messages(body: dict[str, Any]) -> dict[str, Any]:
    """`compress` of the body's `messages` within its `max_tokens`."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise refused("messages", "must be a non-empty list")
    clean = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise refused(f"messages[{index}]", "needs role and content")
        # A missing role is the user's; any other value must be one (an object is not).
        role = message.get("role", "user")
        if not isinstance(role, str) or not role.strip():
            raise refused(f"messages[{index}].role", "must be non-empty text")
        # What is kept of a message is echoed: as redacted, as every echo of input is.
        clean.append({"role": redact(role).text, "content": redact(message["content"]).text})
    budget = count_of(body, "max_tokens", 1000, 50, 100_000)
    result, original, compressed = compress(clean, budget)
    return {
        "compressed": compressed < original,
        "messages": result,
        "original_tokens": original,
        "compressed_tokens": compressed,
        "ratio": round(compressed / max(original, 1), 3),
    }
