"""An LLM extractor through any OpenAI-compatible `POST /v1/chat/completions` server.

The model is asked for JSON that follows a schema (facts, negations, mentions, each with
a quote of the memory), and its answer is checked against the same shapes the built-in
extractor produces: known attributes and entity types, confidences in [0, 1], and quotes
that really are in the memory (their place is the span). Anything short of that — no
answer, an error, malformed JSON, a wrong shape, the tenant's daily budget used up — and
the built-in extractor reads the memory instead, with the reason recorded in the
`memory.synthesized` event. A memory is never lost to the LLM.

Only answers worth asking again (5xx, 429, lost connections, time-outs) are retried, a
bounded number of times; calls are bounded per process by a semaphore. The API key goes
in a header and nowhere else (never a log line, never an event).

Several memories of one subject can go in one call (`extract_many`, bounded by a count and
by their length): the messages are numbered, each with its speaker, and the answer is an
object keyed by number, each part held to its own memory (its quotes must be in it). A
batch answer that is not such an object has each memory asked again alone; so has a memory
whose part is refused; a server that cannot answer leaves each memory to the rules.
"""

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from mnemo.contracts import ENTITY_TYPES
from mnemo.synthesis import extractor
from mnemo.synthesis.attributes import ATTRIBUTES
from mnemo.synthesis.budget import LLMBudget
from mnemo.synthesis.extractor import Extraction, Finding, Mention, Negation
from mnemo.synthesis.llm_calls import measured_call
from mnemo.telemetry import get_logger, log_retry

log = get_logger(__name__)
_retry_log = logging.getLogger(__name__)


class _Fact(msgspec.Struct, forbid_unknown_fields=False):
    attribute: str
    value: str
    statement: str
    confidence: float
    quote: str


class _Negation(msgspec.Struct, forbid_unknown_fields=False):
    attribute: str | None
    value: str | None
    quote: str


class _Mention(msgspec.Struct, forbid_unknown_fields=False):
    name: str
    type: str
    relationship: str
    confidence: float
    quote: str


class LLMAnswer(msgspec.Struct, forbid_unknown_fields=False):
    """What the model must answer (its JSON schema is sent with every request)."""

    facts: list[_Fact]
    negations: list[_Negation] = []
    mentions: list[_Mention] = []


MOST_FACTS = 6
# Tokens an extraction may take: the longest answer the schema allows, about.
ANSWER_TOKENS = 768


def _schema() -> dict[str, Any]:
    # The answer's object at the root (servers want "type": "object" there), parts in $defs.
    _, parts = msgspec.json.schema_components([LLMAnswer], ref_template="#/$defs/{name}")
    root = parts.pop("LLMAnswer")
    # The closed lists as enums: a server that turns the schema into a grammar (llama.cpp,
    # vLLM) then cannot write an attribute or a type of the model's own (the 1.5B model
    # did, and most of its answers were refused for it).
    attributes = sorted(ATTRIBUTES)
    parts["_Fact"]["properties"]["attribute"] = {"enum": attributes}
    parts["_Negation"]["properties"]["attribute"] = {"enum": [*attributes, None]}
    parts["_Mention"]["properties"]["type"] = {"enum": list(ENTITY_TYPES)}
    # Bounded lists: a small model can loop ("feeling: good", "feeling: well", "feeling:
    # happy", ...) until its answer is cut off and lost; one message says a few things.
    for name, most in (("facts", MOST_FACTS), ("negations", 3), ("mentions", MOST_FACTS)):
        root["properties"][name]["maxItems"] = most
    return {**root, "$defs": parts}


SCHEMA = _schema()


def batch_schema(n: int) -> dict[str, Any]:
    """The answer for `n` numbered messages: one extraction per message, keyed "1".."n", all
    required (a grammar-constrained server then answers for each, in order)."""
    single = _schema()
    parts = single.pop("$defs")
    parts["LLMAnswer"] = single
    keys = [str(i) for i in range(1, n + 1)]
    return {
        "type": "object",
        "properties": {k: {"$ref": "#/$defs/LLMAnswer"} for k in keys},
        "required": keys,
        "additionalProperties": False,
        "$defs": parts,
    }


@dataclass(frozen=True)
class Said:
    """One memory for the model: its text, and who said it (None: the user themselves)."""

    content: str
    speaker: str | None = None


# Who the model is told speaks when a memory names no one: the user themselves.
UNNAMED = "The speaker"


def messages(items: Sequence[Said]) -> str:
    """What the model reads: the messages numbered, each with its speaker's name."""
    return "\n".join(f"[{i}] {s.speaker or UNNAMED}: {s.content}" for i, s in enumerate(items, 1))


# Written for small models (checked on Qwen2.5-Coder-1.5B): a worked example on one line
# (it answered in pretty-printed JSON, a third of its tokens spaces, and copied the whole
# message as a statement), the person addressed named as not the speaker (it took "Hey
# Mel!" for the speaker's name), and statements about the speaker by name (told to leave
# the name out, it copied the message's first-person words: "Gonna continue my edu").
PROMPT = f"""You read numbered messages of a conversation, each with its speaker's name
("[1] Jo: ..."), and list what each message says about its own speaker. Answer with JSON
on one line, following the schema: for one message its facts, negations and mentions; for
several, one such object per message number.
- facts: what the speaker says about themselves: work, home, family, pets, plans,
  activities, what they did, have, like or feel. attribute is one of:
  {", ".join(sorted(ATTRIBUTES))}. value is the short value; statement a short sentence
  in the third person that starts with the speaker's name ("Jo signed up for a class");
  confidence in [0, 1]. A feeling is a fact only with what it is about ("Jo is excited
  about the art show"), never alone ("Jo was happy").
- negations: facts the speaker says no longer hold (attribute or null, value or null).
- mentions: the people, pets, organizations, tools, places, products (books, songs, films)
  and events the message names (type one of {", ".join(ENTITY_TYPES)}), with how they
  relate to the speaker ("friend", "employer", "uses", "lives in", "pet", or "mentioned").
- quote: the exact words of the message each item comes from, copied verbatim.
The person the message is addressed to ("Hey Sam!", "you", "your") is not the speaker:
nothing about them is a fact or a mention. Greetings, questions and hypotheticals state
nothing, and neither does a description of an image ("[image: ...]"). A date or time only
as the message says it, never one of your own.
Example: "[1] Jo: Hi Sam! I'm swamped with the kids. My friend Ana got me into pottery, so
I signed up for a class last week. How about you?"
Answer: {{"facts":[{{"attribute":"possession","value":"kids","statement":"Jo has kids",\
"confidence":0.8,"quote":"the kids"}},{{"attribute":"experience","value":"a pottery class",\
"statement":"Jo signed up for a pottery class last week","confidence":0.9,\
"quote":"signed up for a class last week"}}],"negations":[],"mentions":[{{"name":"Ana",\
"type":"person","relationship":"friend","confidence":0.9,"quote":"My friend Ana"}}]}}"""


class InvalidAnswer(ValueError):
    """The model answered, but not something the extractor's shapes allow."""


class LLMUnavailable(RuntimeError):
    """The model server did not answer its health check."""


class _Transient(Exception):
    pass


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, _Transient | httpx.TransportError)


class Slots:
    """At most `n` model calls at once, and a question waiting goes first: someone waits
    for an answer, while reading a memory again is background work."""

    def __init__(self, n: int) -> None:
        self._free = n
        self._urgent = 0  # answers waiting for a slot
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def take(self, *, urgent: bool) -> AsyncIterator[None]:
        async with self._changed:
            self._urgent += urgent
            try:
                await self._changed.wait_for(
                    lambda: self._free > 0 and (urgent or not self._urgent)
                )
            finally:
                self._urgent -= urgent
                self._changed.notify_all()  # a cancelled answer lets the others go
            self._free -= 1
        try:
            yield
        finally:
            async with self._changed:
                self._free += 1
                self._changed.notify_all()


class LLMExtractor:
    def __init__(
        self,
        url: str,
        model: str,
        budget: LLMBudget,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        concurrency: int = 4,
        retries: int = 2,
        backoff_seconds: float = 0.5,
        batch: int = 1,
        batch_chars: int = 4000,
    ) -> None:
        self.name = f"llm:{model}"
        self._model = model
        self._budget = budget
        # Accept both "http://host" and "http://host/v1", as clients of these APIs do.
        root = url.rstrip("/").removesuffix("/v1")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=root, headers=headers, timeout=timeout)
        self._timeout = timeout
        self._slots = Slots(concurrency)
        self._attempts = retries + 1
        self._backoff = backoff_seconds
        self._batch = batch
        self._batch_chars = batch_chars

    async def extract(self, tenant_id: str, content: str, speaker: str | None = None) -> Extraction:
        """What the model found, or the built-in extractor's reading with the reason."""
        if not await self._budget.take(tenant_id):
            return _fallback(content, "budget")
        said = Said(content, speaker)
        try:
            async with self._slots.take(urgent=False):
                answer = await self._ask([said])
            found = parse(answer, content, speaker)
        except InvalidAnswer as exc:
            return _fallback(content, f"invalid: {exc}"[:300])
        except (_Transient, httpx.HTTPError, httpx.InvalidURL) as exc:
            return _fallback(content, f"unavailable: {_describe(exc)}"[:300])
        found.extractor = self.name
        return found

    async def extract_many(self, tenant_id: str, items: Sequence[Said]) -> list[Extraction]:
        """What the model found in each memory (in order), several memories a call, as many
        as the batch and the length allow; each call's memories are one subject's, as one
        agent knows them (SynthesisHandlers._read_many)."""
        calls = batches(items, self._batch, self._batch_chars)
        read = await asyncio.gather(*(self._extract_batch(tenant_id, c) for c in calls))
        return [found for call in read for found in call]

    async def _extract_batch(self, tenant_id: str, items: list[Said]) -> list[Extraction]:
        if len(items) == 1:
            return [await self.extract(tenant_id, items[0].content, items[0].speaker)]
        if not await self._budget.take(tenant_id):
            return [_fallback(s.content, "budget") for s in items]
        parts: list[Extraction | InvalidAnswer]
        try:
            async with self._slots.take(urgent=False):
                answer = await self._ask(items)
            parts = parse_batch(answer, items)
        except InvalidAnswer as exc:
            parts = [exc] * len(items)
        except (_Transient, httpx.HTTPError, httpx.InvalidURL) as exc:
            return [_fallback(s.content, f"unavailable: {_describe(exc)}"[:300]) for s in items]
        out = []
        for said, part in zip(items, parts, strict=True):
            if isinstance(part, InvalidAnswer):
                # Its part of the answer is refused: asked again, alone.
                log.warning("llm_batch_part_refused", reason="invalid", size=len(items))
                out.append(await self.extract(tenant_id, said.content, said.speaker))
            else:
                part.extractor = self.name
                out.append(part)
        return out

    async def close(self) -> None:
        await self._client.aclose()

    async def ping(self) -> None:
        """Raise unless the server lists its models (`GET /v1/models`, which every
        OpenAI-compatible server answers): the health check. The error names no URL."""
        try:
            response = await self._client.get("/v1/models", timeout=2.0)
        except httpx.HTTPError as exc:
            raise LLMUnavailable(_describe(exc)) from None
        if response.status_code != 200:
            raise LLMUnavailable(f"HTTP {response.status_code}")

    async def _ask(self, items: Sequence[Said]) -> str:
        n = len(items)
        return await self.chat_json(
            PROMPT,
            messages(items),
            "mnemo_extraction",
            SCHEMA if n == 1 else batch_schema(n),
            max_tokens=ANSWER_TOKENS * n,
            # The time for one answer, for each memory asked about.
            timeout=self._timeout * n,
        )

    async def answer(
        self, tenant_id: str, question: str, passages: list[str]
    ) -> tuple[str, float, list[int]]:
        """A short answer to `question` from the numbered passages only: (answer,
        confidence, the passages it rests on). Raises InvalidAnswer or an HTTP error when
        the model cannot be used; BudgetSpent when the tenant's budget is used up."""
        if not await self._budget.take(tenant_id):
            raise BudgetSpent(tenant_id)
        numbered = "\n".join(f"[{i}] {text}" for i, text in enumerate(passages))
        async with self._slots.take(urgent=True):
            text = await self.chat_json(
                ANSWER_PROMPT,
                f"Question: {question}\n\nPassages:\n{numbered}",
                "mnemo_answer",
                ANSWER_SCHEMA,
            )
        try:
            found = msgspec.json.decode(text, type=_Answer)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise InvalidAnswer(f"not the answer schema: {_shape_error(exc)}") from None
        if not 0.0 <= found.confidence <= 1.0:
            raise InvalidAnswer("confidence must be between 0 and 1")
        if any(not 0 <= i < len(passages) for i in found.used):
            raise InvalidAnswer("used names a passage that was not given")
        return found.answer.strip(), found.confidence, sorted(set(found.used))

    async def chat_json(
        self,
        system: str,
        user: str,
        name: str,
        schema: dict[str, Any],
        *,
        max_tokens: int | None = None,
        timeout: float | None = None,
    ) -> str:
        """One chat completion with JSON-schema output; transient failures retried."""
        body: dict[str, Any] = {
            "model": self._model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema},
            },
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._backoff, max=10),
            retry=retry_if_exception(_is_transient),
            before_sleep=log_retry(_retry_log, "model call"),
            reraise=True,
        )
        purpose = name.removeprefix("mnemo_")
        async for attempt in retrying:
            with attempt:
                with measured_call(purpose):
                    response = await self._client.post(
                        "/v1/chat/completions",
                        json=body,
                        timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                    )
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Transient(f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    # Its body is not kept: a server may echo the prompt (the memory) in it.
                    raise InvalidAnswer(f"HTTP {response.status_code}")
                return _message(response)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


class BudgetSpent(Exception):
    """The tenant's LLM budget for today is used up."""


class _Answer(msgspec.Struct, forbid_unknown_fields=False):
    answer: str
    confidence: float
    used: list[int] = []


ANSWER_PROMPT = (
    "Answer the question from the numbered passages only, in one short sentence. If they "
    "do not answer it, say so. Reply with JSON: answer, confidence (0 to 1), and used (the "
    "numbers of the passages the answer rests on)."
)
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "used": {"type": "array", "items": {"type": "integer", "minimum": 0}},
    },
    "required": ["answer", "confidence", "used"],
    "additionalProperties": False,
}


def _message(response: httpx.Response) -> str:
    try:
        reply: Any = response.json()
        text = reply["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise InvalidAnswer("not a chat completion (choices[0].message.content)") from None
    if not isinstance(text, str):
        raise InvalidAnswer("choices[0].message.content is not a string")
    return text


def batches(items: Sequence[Said], most: int, chars: int) -> list[list[Said]]:
    """The memories in calls of at most `most`, and of at most `chars` characters of
    memory together (a longer memory goes alone), in order."""
    out: list[list[Said]] = []
    size = 0
    for said in items:
        if out and len(out[-1]) < most and size + len(said.content) <= chars:
            out[-1].append(said)
            size += len(said.content)
        else:
            out.append([said])
            size = len(said.content)
    return out


def parse(
    text: str | bytes, content: str, speaker: str | None = None, others: Sequence[str] = ()
) -> Extraction:
    """The model's JSON as an Extraction, or InvalidAnswer naming what is wrong. `speaker`
    said `content`; `others` are the other people of the conversation (their facts are
    not the speaker's)."""
    try:
        answer = msgspec.json.decode(text, type=LLMAnswer)
    except msgspec.ValidationError as exc:
        raise InvalidAnswer(_shape_error(exc)) from None
    except msgspec.DecodeError:
        raise InvalidAnswer("the answer is not JSON") from None
    out = Extraction()
    for i, f in enumerate(answer.facts):
        at = f"facts[{i}]"
        if f.attribute not in ATTRIBUTES:
            raise InvalidAnswer(f"{at}.attribute is not a known attribute")
        value, statement = _text(f.value, f"{at}.value", 120), _text(f.statement, at, 200)
        span = _span(content, f.quote, value, at)
        if _annotation(content, span):
            continue  # "[image: a painting of a lake]": no words of the speaker's
        sentence = _sentence(content, span)
        if not about_speaker(f.attribute, value, statement, sentence, content):
            continue
        if _QUESTION.match(_sentence(content, (span[1] - 1, span[1])).strip()):
            continue  # a quote that ends asking: "Wow! ... Could you tell me what got you ...?"
        if not _grounded(f.attribute, value, statement, f.quote, content):
            continue
        written = third_person(statement, speaker, others, content)
        if written is None or says_nothing(f.attribute, written):
            continue
        out.facts.append(Finding(f.attribute, value, written, _conf(f.confidence, at), span))
    for i, n in enumerate(answer.negations):
        at = f"negations[{i}]"
        if n.attribute is not None and n.attribute not in ATTRIBUTES:
            raise InvalidAnswer(f"{at}.attribute is not a known attribute")
        denied = _text(n.value, f"{at}.value", 120) if n.value is not None else None
        out.negations.append(Negation(n.attribute, denied, _span(content, n.quote, denied, at)))
    for i, m in enumerate(answer.mentions):
        at = f"mentions[{i}]"
        if m.type not in ENTITY_TYPES:
            raise InvalidAnswer(f"{at}.type is not one of {', '.join(ENTITY_TYPES)}")
        name = _text(m.name, f"{at}.name", 120)
        relationship = _text(m.relationship, f"{at}.relationship", 60)
        span = _span(content, m.quote, name, at)
        if addressed(name, content):
            continue
        out.mentions.append(Mention(name, m.type, relationship, _conf(m.confidence, at), span))
    return extractor.dedupe(out)


def parse_batch(text: str, items: Sequence[Said]) -> list[Extraction | InvalidAnswer]:
    """A batch answer split to its memories: each part parsed against its own memory (its
    quotes must be in it, its speaker is the one its facts describe), or the reason that
    part is refused. InvalidAnswer when the answer is not an object keyed by number."""
    try:
        parts = msgspec.json.decode(text, type=dict[str, msgspec.Raw])
    except msgspec.ValidationError:
        raise InvalidAnswer("not an object keyed by message number") from None
    except msgspec.DecodeError:
        raise InvalidAnswer("the answer is not JSON") from None
    speakers = [s.speaker for s in items if s.speaker]
    out: list[Extraction | InvalidAnswer] = []
    for number, said in enumerate(items, 1):
        part = parts.get(str(number))
        if part is None:
            out.append(InvalidAnswer(f"message {number} is not answered"))
            continue
        others = [name for name in speakers if not _same_name(name, said.speaker)]
        try:
            out.append(parse(bytes(part), said.content, said.speaker, others))
        except InvalidAnswer as exc:
            out.append(InvalidAnswer(f"[{number}] {exc}"))
    return out


def _same_name(a: str | None, b: str | None) -> bool:
    return (a or "").casefold() == (b or "").casefold()


_PRONOUN = r"(?:he|she|they)"
# Who a statement starts with: a capitalised name, a few words at most.
_LEAD_NAME = re.compile(r"([A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,2})\b")


def third_person(
    statement: str, speaker: str | None, others: Sequence[str] = (), content: str = ""
) -> str | None:
    """The statement as facts keep it: about the speaker without their name ("Caroline went
    to a support group" -> "Went to a support group"; "Caroline's kids ..." -> "Their kids
    ..."), or None when it is about someone else: another speaker of the conversation, or
    the person the message speaks to ("Caroline is brave", of "Wow, Caroline! ...")."""
    labels = [UNNAMED, "The user", "Speaker", "User"]
    if speaker:
        labels = [speaker, speaker.split()[0], *labels]
    for label in [*labels, _PRONOUN]:
        # "She's" is "she is", "Caroline's" is hers.
        own = "" if label == _PRONOUN else r"(['’]s)\b|"
        pattern = label if label == _PRONOUN else re.escape(label)
        found = re.match(rf"(?:{pattern})(?:{own}\b(?!['’]))\s*", statement, re.I)
        if found and found.end() < len(statement):
            rest = statement[found.end() :]
            if found.lastindex and found.group(1):
                rest = f"their {rest}"
            return rest[0].upper() + rest[1:]
    lead = _LEAD_NAME.match(statement)
    if lead:
        name = re.sub(r"['’]s$", "", lead.group(1))
        if any(_same_name(name, o) or _same_name(name, o.split()[0]) for o in others):
            return None
        if content and addressed(name, content):
            return None
    return statement


# A feeling with nothing it is about ("Was so happy", "Feels accepted", "Relaxing").
_BARE_FEELING = re.compile(
    r"(?:(?:is|was|feels|felt|seems|seemed|gets|got|became|has been|had been|is feeling|"
    r"was feeling|feeling)\s+)?(?:(?:so|very|really|too|quite|pretty|super|extremely|truly|"
    r"incredibly|a bit|kind of|totally)\s+)*[\w-]+(?:,?\s+(?:and|but)\s+[\w-]+)?[.!]*",
    re.I,
)


def says_nothing(attribute: str, statement: str) -> bool:
    """A statement that states nothing alone: one word ("Relaxing"), or a feeling with
    nothing it is about ("Was so happy and thankful")."""
    if len(statement.split()) < 2:
        return True
    return attribute == "feeling" and bool(_BARE_FEELING.fullmatch(statement.strip()))


def _annotation(content: str, span: tuple[int, int]) -> bool:
    """Whether the span lies inside brackets: words added to the message (an image's
    description, "[image: a photo of a lake]"), not the speaker's."""
    opened = content.rfind("[", 0, span[0])
    return opened >= 0 and content.rfind("]", opened, span[0]) < 0 and "]" in content[span[1] :]


# A name said to someone: "Hey Mel!", "Thanks, Caroline", "Mel, ..." opening the message.
_GREETING = (
    r"(?:hey|hi|hiya|hello|yo|thanks|thank you|dear|bye|congrats|congratulations|wow|oh|"
    r"yeah|yep|yes|woohoo|aw|awesome|cool|great|nice|exactly|totally agree|sounds good|"
    r"agreed|ok|okay|sure)"
)
# Where a message gives its speaker's own name.
_OWN_NAME = r"(?:my name is|my name's|i'm|i am|call me|this is)"
_LISTENER = re.compile(r"\b(?:you|your|yours|yourself|you're|you've|you'll)\b", re.I)
_SELF = re.compile(r"\b(?:i|i'm|i've|i'll|i'd|me|my|mine|myself|we|we're|our|us)\b", re.I)


def addressed(name: str, content: str) -> bool:
    """Whether `name` is the person the message speaks to (a small model reads "Hey Mel!"
    as the speaker's name, or as someone the speaker mentions)."""
    n = re.escape(name)
    return bool(
        re.search(rf"\b{_GREETING},?\s+{n}\b", content, re.I)
        or re.match(rf"\s*{n}\s*[,!]", content, re.I)
        # said last, set off by a comma: "That's great, Mel!", "Keep it up, John."
        or re.search(rf",\s*{n}\s*[.!?]", content, re.I)
    )


# A sentence asking something: a question word first, a question mark last ("Did you go to
# the fair?"; not "I love hiking, do you?", which says something first).
_QUESTION = re.compile(
    r"(?:how|what|why|when|where|who|whom|which|did|do|does|is|are|was|were|have|has|had|"
    r"can|could|would|will|should|shall|may|any|anything)\b[^.!?]*\?$",
    re.I,
)


def about_speaker(attribute: str, value: str, statement: str, quote: str, content: str) -> bool:
    """What the model's fact must be to describe the speaker, whatever it was told: no
    question, not words about the listener alone, and a name only where the message
    gives it as the speaker's own."""
    if statement.rstrip().endswith("?") or _QUESTION.match(quote.strip()):
        return False  # "How did the funding help with the school?" says no one did
    if _LISTENER.search(quote) and not _SELF.search(quote):
        return False  # "Good to see you!": about the one spoken to
    if attribute == "name":
        own = rf"\b{_OWN_NAME}\s+{re.escape(value)}\b"
        return bool(re.search(own, content, re.I)) and not addressed(value, content)
    return True


def _grounded(attribute: str, value: str, statement: str, quote: str, content: str) -> bool:
    """Whether the fact rests on the message as the speaker's: a value that names a place,
    an employer, a tool or a person is in the message (the model wrote "Is from New York"
    of a message naming no place); the value is not the person spoken to ("Totally agree,
    Mel" is no fact about Mel's speaker); and the statement is not the quote copied as is
    ("Got it!"), which the model writes when it has nothing to say about the speaker."""
    if ATTRIBUTES[attribute].entity_type and value.casefold() not in content.casefold():
        return False
    if addressed(value, content):
        return False
    return statement.strip(" .!").casefold() != quote.strip(" .!").casefold()


def _sentence(content: str, span: tuple[int, int]) -> str:
    """The sentence(s) a quote is in: the model quotes "got guts" of "You've got guts."."""
    start = max(content.rfind(end, 0, span[0]) for end in ".!?\n") + 1
    ends = [i for end in ".!?\n" if (i := content.find(end, span[1])) >= 0]
    return content[start : min(ends) + 1 if ends else len(content)]


def _text(value: str, at: str, longest: int) -> str:
    value = value.strip()
    if not value or len(value) > longest:
        raise InvalidAnswer(f"{at} must be 1-{longest} characters")
    return value


def _conf(value: float, at: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise InvalidAnswer(f"{at}.confidence must be between 0 and 1")
    return round(value, 2)


def _span(content: str, quote: str, value: str | None, at: str) -> tuple[int, int]:
    """Where the quote (else the value) is in the memory: the model may not invent it."""
    lowered = content.lower()
    for needle in (quote.strip(), value or ""):
        if needle and (start := lowered.find(needle.lower())) >= 0:
            return start, start + len(needle)
    raise InvalidAnswer(f"{at}.quote is not in the memory")


def _shape_error(exc: msgspec.MsgspecError) -> str:
    """What is wrong with the answer's shape, and where, in words of the schema only: a
    reason is kept in the log, and a wrong value's text (an enum value, an unknown field's
    name) is the model's, which may repeat the memory."""
    what, _, where = str(exc).partition(" - at ")
    if not what.startswith(("Object missing required field", "Expected ")):
        what = "not the expected shape"
    return f"{what} - at {where}" if where else what


def reason_kind(reason: str | None) -> str | None:
    """What a log line may say of a fallback reason: its kind (budget, invalid,
    unavailable). The rest quotes the model's answer or the server's reply, which may
    quote the memory; it is kept in the event only."""
    return reason.partition(":")[0] if reason else None


def _fallback(content: str, reason: str) -> Extraction:
    log.warning("llm_extractor_fell_back", reason=reason_kind(reason))
    found = extractor.extract(content)
    found.fallback_reason = reason
    return found


def _describe(exc: BaseException) -> str:
    # The exception's class and message only: a request (and its headers) is never shown.
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
