"""MEMANTO's conversation compress (mnemo.gateway.compat.memanto_compress)."""

import random

import pytest

from mnemo.gateway.answering import SENTENCE
from mnemo.gateway.compat.memanto_compress import (
    INFORMATIVE,
    SUMMARY_PREFIX,
    approx_tokens,
    compress,
    compressed_messages,
)
from mnemo.gateway.problems import Problem

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "um okay. My order number is 1042. sure."},
    {"role": "assistant", "content": "fine, noted. Maria moved to Porto. right."},
    {"role": "user", "content": "well. I live in Lisbon now."},
    {"role": "assistant", "content": "ok then, noted that for you."},
]


def test_the_newest_stay_whole_and_older_facts_fill_what_is_left():
    # 40 tokens: the system message and the two newest (17) fit half of it; of the older
    # ones, "user: My order number is 1042." fits (32), Maria's line would not (41).
    result, original, compressed = compress(CONVERSATION, 40)
    assert result == [
        CONVERSATION[0],
        {
            "role": "system",
            "content": "Earlier in this conversation: user: My order number is 1042.",
        },
        CONVERSATION[3],
        CONVERSATION[4],
    ]
    assert (original, compressed) == (38, 32)
    wider, _, _ = compress(CONVERSATION, 48)
    assert wider[1]["content"] == (
        "Earlier in this conversation: user: My order number is 1042."
        " assistant: Maria moved to Porto."
    )


def _by_joining(messages: list[dict[str, str]], budget: int) -> list[str]:
    """The summary lines as compress keeps them, measured by joining the summary for each
    sentence (the definition; quadratic, so only for small inputs)."""
    result, _, _ = compress(messages, budget)
    recent = [m for m in result if m["role"] != "system"]
    rest = [m for m in messages if m["role"] != "system"]
    older = rest[: len(rest) - len(recent)]
    spent = sum(approx_tokens(m["content"]) for m in messages if m["role"] == "system")
    spent += sum(approx_tokens(m["content"]) for m in recent)
    kept: list[str] = []
    for message in older:
        for sentence in SENTENCE.split(message["content"]):
            line = f"{message['role']}: {sentence.strip()}"
            longer = approx_tokens(" ".join([SUMMARY_PREFIX, *kept, line]))
            if INFORMATIVE.search(sentence) and spent + longer <= budget:
                kept.append(line)
    return kept


@pytest.mark.parametrize("seed", range(5))
def test_the_running_length_keeps_what_joining_would(seed):
    rng = random.Random(seed)
    words = ["ok.", "Maria", "moved", "to", "Porto.", "my", "order", "is", "1042!", "sure?", "um"]
    messages = [
        {
            "role": rng.choice(["user", "assistant", "system"]),
            "content": " ".join(rng.choice(words) for _ in range(rng.randint(1, 40))),
        }
        for _ in range(200)
    ]
    budget = rng.randint(50, 3000)
    result, _, _ = compress(messages, budget)
    summaries = [m["content"] for m in result if m["content"].startswith(SUMMARY_PREFIX)]
    expected = _by_joining(messages, budget)
    assert summaries == ([" ".join([SUMMARY_PREFIX, *expected])] if expected else [])


def test_a_body_near_the_size_limit_is_compressed_whole():
    # About 6 MiB of messages: every informative sentence is looked at once.
    messages = [
        {"role": "user", "content": f"well, um. My order number is {i}. sure thing."}
        for i in range(120_000)
    ]
    body = compressed_messages({"messages": messages, "max_tokens": 100_000})
    assert body["compressed"] is True and body["compressed_tokens"] <= 100_000
    assert body["messages"][-1] == messages[-1]
    summary = body["messages"][0]["content"]
    assert summary.startswith(SUMMARY_PREFIX + " user: My order number is 0.")
    assert "um" not in summary.split()


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"role": {"name": "user"}, "content": "x"}, "messages[0].role"),
        ({"role": 1, "content": "x"}, "messages[0].role"),
        ({"role": None, "content": "x"}, "messages[0].role"),
        ({"role": " ", "content": "x"}, "messages[0].role"),
        ({"role": "user"}, "messages[0]"),
        ("hello", "messages[0]"),
    ],
)
def test_a_message_of_the_wrong_shape_is_refused_naming_it(message, field):
    with pytest.raises(Problem) as refused:
        compressed_messages({"messages": [message]})
    assert refused.value.status == 422 and refused.value.details["field"] == field


def test_a_message_without_a_role_is_the_users():
    body = compressed_messages({"messages": [{"content": "I live in Lisbon."}]})
    assert body["messages"] == [{"role": "user", "content": "I live in Lisbon."}]
