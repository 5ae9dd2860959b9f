"""Who is speaking in a memory, and so whom its first-person statements describe.

One userId may hold more than one voice: an assistant's replies next to its user's lines,
two people in one conversation or meeting (LoCoMo's turns carry `metadata.author`). What
"I work at Stripe" says depends on who said it:

- a line whose `metadata.role` is the assistant's side (assistant, agent, ai, bot, model,
  system, tool, function) says nothing about the user: it yields no facts and no entities;
- a line with `metadata.author` (or `metadata.speaker`) describes that person: its facts
  are `about` them, and one person's facts never supersede another's;
- otherwise the subject (the userId) is speaking, as the seeds describe: `about` is None.

Read models that answer `?about=NAME` (facts, profile, entities, packs, MEMANTO recall)
keep what `is_about` says: NAME is a speaker, or the userId for the user themselves.

An author equal to the userId is the subject themselves.
"""

from dataclasses import dataclass
from typing import Any

ASSISTANT_ROLES = frozenset(
    {"assistant", "agent", "ai", "bot", "model", "system", "tool", "function"}
)
MAX_NAME = 100  # a longer "author" is not a name


@dataclass(frozen=True)
class Speaker:
    about: str | None  # whom the memory's first-person statements describe
    describes_self: bool = True  # False: the assistant's side, no facts about anyone


def speaker_of(metadata: dict[str, Any] | None, user_id: str) -> Speaker:
    metadata = metadata or {}
    role = metadata.get("role")
    if isinstance(role, str) and role.strip().lower() in ASSISTANT_ROLES:
        return Speaker(about=None, describes_self=False)
    for field in ("author", "speaker"):
        name = metadata.get(field)
        if isinstance(name, str) and 0 < len(name.strip()) <= MAX_NAME:
            name = normal_name(name)
            if name.casefold() == user_id.casefold():
                return Speaker(about=None)
            return Speaker(about=name)
    return Speaker(about=None)


def normal_name(name: str) -> str:
    """A name as `about` keeps it: its words, single-spaced."""
    return " ".join(name.split())


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two `about` values name one person (names compare without case, as
    PostgreSQL's lower() does where a read model filters in SQL)."""
    if a is None or b is None:
        return a is b
    return a.lower() == b.lower()


def is_about(about: str | None, user_id: str, wanted: str) -> bool:
    """Whether what is `about` someone (None: the user themselves) is about `wanted`, a name
    as a caller asks for it (`?about=`); the userId names the user themselves."""
    return same_person(about if about is not None else user_id, normal_name(wanted))


def spoken_by(metadata: dict[str, Any] | None, user_id: str, wanted: str) -> bool:
    """Whether a memory is `wanted`'s own words (`is_about` its speaker; never the
    assistant's side)."""
    speaker = speaker_of(metadata, user_id)
    return speaker.describes_self and is_about(speaker.about, user_id, wanted)
