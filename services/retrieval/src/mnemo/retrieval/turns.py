"""A turn's conversational context: the turn just before it in its session (of the same
agent: an agent's key sees its own agent's memories only, so no other agent's words may
make its memories match).

A reply rarely says what it answers ("Yes, twice last summer!"); the turn before it does.
Each chunk of a memory in a session is indexed with the preceding turn after its own
words, so that both the dense and the keyword half of a search can find the reply by
the question it answers (LoCoMo dev set, bench/locomo_inprocess.py: evidence all@10
0.677 -> 0.746, single-hop 0.80 -> 0.89).
"""

from dataclasses import dataclass
from typing import Protocol

from mnemo.contracts import Envelope

# At most this much of the preceding turn (its end, nearest the reply) joins the text.
CONTEXT_CHARS = 400


@dataclass(frozen=True, slots=True)
class Turn:
    """What someone (author or role, when known) said."""

    speaker: str | None
    content: str

    def as_context(self) -> str:
        text = self.content[-CONTEXT_CHARS:]
        return f"{self.speaker}: {text}" if self.speaker else text


class PrecedingTurns(Protocol):
    """Where the index finds the turn before each memory of a session."""

    async def preceding(self, envelopes: list[Envelope]) -> dict[str, Turn]:
        """By memory id, the turn before it in its session; absent when there is none."""
        ...
