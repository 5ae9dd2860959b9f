"""Reading the LoCoMo conversations: turns, session dates, QA entries and their evidence.

The data (snap-research/LoCoMo, Maharana et al., ACL 2024) is CC BY-NC 4.0: research,
non-commercial use only. Pure functions; nothing here touches the network.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mnemo.retrieval.dates import MONTHS

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}

_SESSION = re.compile(r"^session_(\d+)$")
# "1:56 pm on 8 May, 2023" (the comma and the case vary little, but be lenient).
_DATE = re.compile(
    r"^\s*(\d{1,2}):(\d{2})\s*([ap])\.?\s*m\.?\s+on\s+(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})\s*$",
    re.IGNORECASE,
)
# One evidence id, tolerating the malformed forms of the data ("D:11:26", "D30:05").
_EVIDENCE = re.compile(r"^D\s*:?\s*(\d+)\s*:\s*(\d+)$", re.IGNORECASE)
_EVIDENCE_SPLIT = re.compile(r"[;,\s]+")


def parse_session_date(text: str) -> datetime:
    """A session's date ("1:56 pm on 8 May, 2023"), read as UTC (the data has no zone)."""
    match = _DATE.match(text)
    if not match:
        raise ValueError(f"unrecognised LoCoMo date: {text!r}")
    hour, minute, half, day, month_name, year = match.groups()
    month = MONTHS.get(month_name.lower())
    if month is None:
        raise ValueError(f"unrecognised month in LoCoMo date: {text!r}")
    h = int(hour)
    if not 1 <= h <= 12:
        raise ValueError(f"hour out of range in LoCoMo date: {text!r}")
    h = h % 12 + (12 if half.lower() == "p" else 0)
    return datetime(int(year), month, int(day), h, int(minute), tzinfo=UTC)


def iso_utc(when: datetime) -> str:
    """ISO 8601 with a Z, as the API's metadata.timestamp wants."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise_evidence_id(raw: str) -> str | None:
    """ "D3:5" from one id in any of the data's spellings; None when it is no id at all."""
    match = _EVIDENCE.match(raw.strip())
    if not match:
        return None
    return f"D{int(match.group(1))}:{int(match.group(2))}"


def normalise_evidence(raw: list[str] | str, known: set[str]) -> tuple[list[str], list[str]]:
    """Split, normalise and dedupe evidence ids, keeping their order.

    Returns (valid ids, dropped pieces): a piece is dropped when it is not an id or names a
    turn the conversation does not have.
    """
    values = [raw] if isinstance(raw, str) else list(raw)
    valid: list[str] = []
    dropped: list[str] = []
    for value in values:
        for piece in _EVIDENCE_SPLIT.split(str(value)):
            if not piece:
                continue
            dia_id = normalise_evidence_id(piece)
            if dia_id is None or dia_id not in known:
                dropped.append(piece)
            elif dia_id not in valid:
                valid.append(dia_id)
    return valid, dropped


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    session: int
    date: datetime
    blip_caption: str | None = None

    @property
    def content(self) -> str:
        if self.blip_caption:
            return f"{self.text} [image: {self.blip_caption}]"
        return self.text

    @property
    def title(self) -> str:
        return f"{self.speaker} on {self.date.day} {self.date:%B %Y}"

    def ingest_item(self, user_id: str) -> dict[str, Any]:
        """One item of POST /v1/ingest/batch."""
        return {
            "userId": user_id,
            "content": self.content,
            "sourceType": "conversation",
            "sessionId": f"session_{self.session}",
            "metadata": {
                "author": self.speaker,
                "timestamp": iso_utc(self.date),
                "dia_id": self.dia_id,
                "title": self.title,
            },
        }


@dataclass(frozen=True)
class QA:
    index: int
    question: str
    category: int
    evidence: list[str]
    dropped: list[str] = field(default_factory=list)
    raw_evidence: list[str] = field(default_factory=list)

    @property
    def normalised(self) -> bool:
        """Whether the data's evidence ids needed splitting, fixing or dropping."""
        return self.raw_evidence != self.evidence


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    turns: list[Turn]
    qa: list[QA]


def sessions_of(conversation: dict[str, Any]) -> list[int]:
    """The session numbers that hold turns: `session_N` lists, not the date keys."""
    numbers = []
    for key, value in conversation.items():
        match = _SESSION.match(key)
        if match and isinstance(value, list):
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def parse_conversation(sample: dict[str, Any]) -> Conversation:
    conv = sample["conversation"]
    turns: list[Turn] = []
    for number in sessions_of(conv):
        date = parse_session_date(conv[f"session_{number}_date_time"])
        for n, turn in enumerate(conv[f"session_{number}"]):
            # The data dates a session, not its turns: each turn a second after the one
            # before, so that their order is in their timestamps and not in which of the
            # batches sent at once reached the log first.
            turns.append(
                Turn(
                    dia_id=turn["dia_id"],
                    speaker=turn["speaker"],
                    text=turn["text"],
                    session=number,
                    date=date + timedelta(seconds=n),
                    blip_caption=turn.get("blip_caption") or None,
                )
            )
    known = {t.dia_id for t in turns}
    qa = []
    for index, entry in enumerate(sample.get("qa", [])):
        valid, dropped = normalise_evidence(entry.get("evidence", []), known)
        qa.append(
            QA(
                index=index,
                question=entry["question"],
                category=int(entry["category"]),
                evidence=valid,
                dropped=dropped,
                raw_evidence=list(entry.get("evidence", [])),
            )
        )
    return Conversation(
        sample_id=sample["sample_id"],
        speakers=(conv.get("speaker_a", ""), conv.get("speaker_b", "")),
        turns=turns,
        qa=qa,
    )


def load(path: Path, only: list[str] | None = None) -> list[Conversation]:
    """The conversations of the file, in its order; `only` keeps those sample ids."""
    samples = json.loads(path.read_text())
    conversations = [parse_conversation(s) for s in samples]
    if only:
        by_id = {c.sample_id: c for c in conversations}
        missing = [s for s in only if s not in by_id]
        if missing:
            raise ValueError(f"unknown conversations {missing}; the file has {sorted(by_id)}")
        conversations = [by_id[s] for s in only]
    return conversations
