"""Several memories of one subject in one model call (MNEMO_LLM_BATCH): the messages are
numbered with their speakers, the answer is keyed by number, and each part is held to its
own memory (its quotes in it, its facts about its speaker). A garbage batch answer has
each memory asked again alone, a refused part only its own memory; a server that cannot
answer leaves every memory to the rules. And what the model writes is kept as a statement
about the speaker: in the third person without their name, never about someone else, never
a feeling with nothing it is about. The sentences are this file's own."""

import json

import httpx
import pytest

from mnemo.synthesis.budget import LLMBudget
from mnemo.synthesis.llm import (
    ANSWER_TOKENS,
    SCHEMA,
    InvalidAnswer,
    LLMExtractor,
    Said,
    batch_schema,
    batches,
    messages,
    parse,
    parse_batch,
    says_nothing,
    third_person,
)

BATCH = [
    Said("I just adopted a greyhound named Pixel!", "Priya"),
    Said("Nice! I started rowing at the club in March.", "Tomas"),
    Said("Tomas, that sounds fun. I bake sourdough every weekend.", "Priya"),
]


def fact(attribute: str, value: str, statement: str, quote: str) -> dict:
    return {
        "attribute": attribute,
        "value": value,
        "statement": statement,
        "confidence": 0.9,
        "quote": quote,
    }


def part(*facts: dict) -> dict:
    return {"facts": list(facts), "negations": [], "mentions": []}


GOOD = {
    "1": part(fact("possession", "a greyhound", "Priya has a greyhound", "adopted a greyhound")),
    "2": part(fact("activity", "rowing", "Tomas started rowing in March", "started rowing")),
    "3": part(fact("activity", "sourdough", "Priya bakes sourdough", "bake sourdough")),
}


def test_the_messages_are_numbered_with_their_speakers():
    text = messages([*BATCH[:2], Said("I work at a bakery.")])
    assert text.splitlines() == [
        "[1] Priya: I just adopted a greyhound named Pixel!",
        "[2] Tomas: Nice! I started rowing at the club in March.",
        "[3] The speaker: I work at a bakery.",
    ]


def test_the_batch_schema_requires_one_answer_per_message_in_order():
    schema = batch_schema(3)
    assert schema["required"] == ["1", "2", "3"] and schema["additionalProperties"] is False
    assert all(p == {"$ref": "#/$defs/LLMAnswer"} for p in schema["properties"].values())
    one = schema["$defs"]["LLMAnswer"]
    assert one["properties"] == SCHEMA["properties"] and one["required"] == SCHEMA["required"]


def test_calls_are_bounded_by_count_and_by_length():
    short = [Said("x" * 10) for _ in range(5)]
    assert [len(c) for c in batches(short, 2, 1000)] == [2, 2, 1]
    assert [len(c) for c in batches(short, 8, 25)] == [2, 2, 1]
    longer = [Said("x" * 10), Said("y" * 500), Said("z" * 10)]
    assert [len(c) for c in batches(longer, 8, 100)] == [1, 1, 1]  # the long one alone
    assert [s for c in batches(short, 3, 1000) for s in c] == short  # in order


def test_a_batch_answer_is_split_to_its_memories_each_span_in_its_own():
    found = parse_batch(json.dumps(GOOD), BATCH)
    assert [[f.statement for f in e.facts] for e in found] == [
        ["Has a greyhound"],
        ["Started rowing in March"],
        ["Bakes sourdough"],
    ]
    quoted = ["adopted a greyhound", "started rowing", "bake sourdough"]
    for said, extraction, quote in zip(BATCH, found, quoted, strict=True):
        [f] = extraction.facts
        assert said.content[f.span[0] : f.span[1]] == quote


def test_a_part_quoting_another_memory_is_refused_alone():
    mixed = {**GOOD, "1": part(fact("activity", "rowing", "Priya rows", "started rowing"))}
    first, second, third = parse_batch(json.dumps(mixed), BATCH)
    assert isinstance(first, InvalidAnswer) and "[1] facts[0].quote" in str(first)
    assert [f.value for f in second.facts] == ["rowing"]
    assert [f.value for f in third.facts] == ["sourdough"]


def test_a_message_left_unanswered_is_refused_alone():
    found = parse_batch(json.dumps({"1": GOOD["1"], "3": GOOD["3"]}), BATCH)
    assert isinstance(found[1], InvalidAnswer) and "message 2" in str(found[1])
    assert not isinstance(found[0], InvalidAnswer) and not isinstance(found[2], InvalidAnswer)


@pytest.mark.parametrize("text", ["not json", json.dumps([GOOD["1"]]), json.dumps(GOOD["1"])])
def test_an_answer_not_keyed_by_number_is_refused_whole_or_per_part(text):
    try:
        found = parse_batch(text, BATCH)
    except InvalidAnswer:
        return
    # An answer for one message, sent for three: no part is a message's answer.
    assert all(isinstance(f, InvalidAnswer) for f in found)


def test_a_fact_about_the_other_speaker_is_not_the_speakers():
    """Under Priya's message the model states what Tomas does: not Priya's fact."""
    answer = {**GOOD, "3": part(fact("activity", "rowing", "Tomas rows", "sounds fun"))}
    third = parse_batch(json.dumps(answer), BATCH)[2]
    assert not isinstance(third, InvalidAnswer) and third.facts == []


# The classes of false facts the 1.5B model wrote, in sentences of this file's own.
@pytest.mark.parametrize(
    ("statement", "speaker", "written"),
    [
        ("Priya adopted a greyhound", "Priya", "Adopted a greyhound"),
        ("priya adopted a greyhound", "Priya", "Adopted a greyhound"),
        ("Priya's greyhound is named Pixel", "Priya", "Their greyhound is named Pixel"),
        ("Priya Rao bakes bread", "Priya Rao", "Bakes bread"),
        ("Priya bakes bread", "Priya Rao", "Bakes bread"),
        ("She bakes bread", "Priya", "Bakes bread"),
        ("The speaker works at a bakery", None, "Works at a bakery"),
        ("Works at a bakery", None, "Works at a bakery"),  # as the model wrote before
        ("Tomas rows", "Priya", None),  # the other speaker
    ],
)
def test_statements_are_kept_about_the_speaker_without_their_name(statement, speaker, written):
    assert third_person(statement, speaker, ["Tomas"]) == written


def test_praise_of_the_person_spoken_to_is_not_the_speakers():
    content = "Wow, Dana! You are so brave for doing that."
    assert third_person("Dana is brave", "Priya", [], content) is None


@pytest.mark.parametrize(
    ("attribute", "statement", "nothing"),
    [
        ("feeling", "Was so happy", True),
        ("feeling", "Was so happy and grateful", True),
        ("feeling", "Feels relieved", True),
        ("feeling", "Is excited about the pottery fair", False),
        ("feeling", "Feels proud of her garden", False),
        ("preference", "Soothing", True),
        ("preference", "Likes long walks", False),
    ],
)
def test_a_feeling_needs_what_it_is_about_and_a_statement_more_than_a_word(
    attribute, statement, nothing
):
    assert says_nothing(attribute, statement) is nothing


def test_what_a_message_says_in_parts_is_kept_or_refused_by_class():
    """Through parse: a bare feeling, a one-word statement and an image's description are
    dropped, the rest of the answer stands."""
    content = "I finished the marathon and I was so happy! [image: a house by a lake]"
    answer = part(
        fact("experience", "the marathon", "Priya finished the marathon", "finished the marathon"),
        fact("feeling", "happy", "Priya was so happy", "I was so happy"),
        fact("feeling", "happy", "Happy", "so happy"),
        fact("location", "a house by a lake", "Priya lives in a house by a lake", "a house"),
    )
    found = parse(json.dumps(answer), content, "Priya")
    assert [f.statement for f in found.facts] == ["Finished the marathon"]


class Server:
    """A scripted chat-completions server in process: replies in turn, requests kept."""

    def __init__(self, *replies: httpx.Response | str) -> None:
        self.replies = list(replies)
        self.asked: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(json.loads(request.content))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, httpx.Response):
            return reply
        return httpx.Response(200, json={"choices": [{"message": {"content": reply}}]})


def extractor(server: Server, batch: int = 4) -> LLMExtractor:
    llm = LLMExtractor(
        "http://llm", "m", LLMBudget(None, 0), retries=0, batch=batch, backoff_seconds=0
    )
    llm._client = httpx.AsyncClient(base_url="http://llm", transport=httpx.MockTransport(server))
    return llm


def single(text: str) -> str:
    """The answer to one message asked alone."""
    return json.dumps(part(fact("activity", "x", f"Did {text}", text)))


async def test_one_call_reads_the_batch_with_room_for_every_answer():
    server = Server(json.dumps(GOOD))
    found = await extractor(server).extract_many("t", BATCH)
    [asked] = server.asked
    assert asked["max_tokens"] == 3 * ANSWER_TOKENS
    assert asked["response_format"]["json_schema"]["schema"]["required"] == ["1", "2", "3"]
    assert asked["messages"][1]["content"] == messages(BATCH)
    assert [e.extractor for e in found] == ["llm:m"] * 3
    assert [e.fallback_reason for e in found] == [None] * 3


async def test_garbage_for_a_batch_has_each_memory_asked_alone():
    server = Server("{not json", single("adopted"), single("rowing"), single("bake"))
    found = await extractor(server).extract_many("t", BATCH)
    assert len(server.asked) == 4
    assert [len(a["messages"][1]["content"].splitlines()) for a in server.asked] == [3, 1, 1, 1]
    assert [e.fallback_reason for e in found] == [None] * 3
    assert [[f.value for f in e.facts] for e in found] == [["x"], ["x"], ["x"]]


async def test_a_refused_part_has_only_its_memory_asked_again():
    mixed = {**GOOD, "2": part(fact("activity", "x", "Tomas x", "not in the message"))}
    server = Server(json.dumps(mixed), single("rowing"))
    found = await extractor(server).extract_many("t", BATCH)
    assert len(server.asked) == 2
    assert server.asked[1]["messages"][1]["content"] == messages([BATCH[1]])
    assert [[f.value for f in e.facts] for e in found] == [["a greyhound"], ["x"], ["sourdough"]]


async def test_a_server_that_cannot_answer_leaves_every_memory_to_the_rules():
    server = Server(httpx.Response(503))
    found = await extractor(server).extract_many("t", BATCH)
    assert len(server.asked) == 1  # not each memory again: the server is away
    assert all(e.fallback_reason and e.fallback_reason.startswith("unavailable") for e in found)
    assert all(e.extractor == "rules-v2" for e in found)


async def test_a_batch_of_one_is_asked_as_one_memory():
    server = Server(single("adopted"))
    await extractor(server, batch=1).extract_many("t", BATCH[:2])
    assert len(server.asked) == 2
    assert all(a["response_format"]["json_schema"]["schema"] == SCHEMA for a in server.asked)


@pytest.mark.parametrize(
    ("content", "quote", "kept"),
    [
        ("Did you finish the quilt for the county fair?", "finish the quilt", False),
        ("Great! How did the grant help with fixing the library?", "fixing the library", False),
        ("I love hiking, do you?", "love hiking", True),
        ("I fixed the library roof. Can you believe it?", "fixed the library roof", True),
        # The whole message quoted, ending in the question it asks.
        (
            "Wow, Lena! That's great. Could you tell me what got you into sailing?",
            "Wow, Lena! That's great. Could you tell me what got you into sailing?",
            False,
        ),
    ],
)
def test_a_question_states_nothing_of_what_it_asks_about(content, quote, kept):
    answer = part(fact("experience", quote, f"Priya did {quote}", quote))
    assert bool(parse(json.dumps(answer), content, "Priya").facts) is kept


@pytest.mark.parametrize(
    ("content", "got", "kept"),
    [
        # A place the message never names.
        (
            "Wow, Lena! Could you tell me what got you into that?",
            fact("hometown", "Oslo", "Priya is from Oslo", "Could you tell me"),
            False,
        ),
        (
            "I grew up in Oslo, by the fjord.",
            fact("hometown", "Oslo", "Priya is from Oslo", "grew up in Oslo"),
            True,
        ),
        # The person spoken to as the value.
        (
            "Exactly, Lena. Baking is my therapy.",
            fact("preference", "Lena", "Agrees with Lena", "Exactly, Lena"),
            False,
        ),
        # The quote copied as the statement: nothing written about the speaker.
        ("Got it! Thanks, Lena.", fact("experience", "it", "Got it!", "Got it!"), False),
        (
            "I got a new kiln!",
            fact("possession", "a new kiln", "Priya got a new kiln", "got a new kiln"),
            True,
        ),
    ],
)
def test_a_fact_rests_on_the_message_as_the_speakers(content, got, kept):
    assert bool(parse(json.dumps(part(got)), content, "Priya").facts) is kept
