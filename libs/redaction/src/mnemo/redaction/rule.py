"""A detection rule: which kind of secret, the regex that finds it, and how to confirm it."""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# Judges a candidate: the whole match (for its context) and the secret text itself.
Check = Callable[[re.Match[str], str], bool]


@dataclass(frozen=True)
class Rule:
    """One way of finding one kind of secret.

    `groups` names the regex groups that may hold the secret, tried in order; the first one
    that took part in the match is what gets replaced, so context such as `password=` or
    `Authorization: Bearer` stays readable. `check`, when set, must accept the candidate.
    """

    kind: str
    pattern: re.Pattern[str]
    groups: tuple[int | str, ...] = (0,)
    check: Check | None = None

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        """The spans of the secrets this rule finds in `text`.

        A rejected match does not hide what starts inside it: `key_id=AKIA...=client_secret:
        ...` is first read as one long value of `key_id`; the search resumes one character
        later so `client_secret` is still seen.
        """
        position = 0
        while (match := self.pattern.search(text, position)) is not None:
            span = self._secret_span(match)
            if span is None:
                position = match.start() + 1
            else:
                position = max(match.end(), match.start() + 1)
                yield span

    def _secret_span(self, match: re.Match[str]) -> tuple[int, int] | None:
        for group in self.groups:
            start, end = match.span(group)
            if start < 0:
                continue
            if start == end:
                return None
            if self.check is not None and not self.check(match, match.string[start:end]):
                return None
            return start, end
        return None


def placeholder(kind: str) -> str:
    """The text that stands in for a secret of `kind`."""
    return f"[REDACTED:{kind}]"


# Output of an earlier pass; never re-redacted, which is what makes `redact` idempotent.
PLACEHOLDER = re.compile(r"\[REDACTED:[a-z_]+\]")
