"""Appends as wholes on the bus: what of an append to the log is still to come.

One append to the log (one transaction) is published as several messages, and a consumer
that fetches in batches may take them in two: a read model applying each batch in one
transaction would then, for a moment, show half of what was one change (a new employer
beside the old one not yet ended). So the relay marks each event with what follows it in
its append (`Headers.APPEND_REST`: "subject=count" words), and a consumer that applies
appends as wholes fetches on until it holds the rest that its filter lets through.
"""

from collections import Counter
from collections.abc import Iterable, Sequence


def rests(subjects: Sequence[str], appends: Sequence[str]) -> list[str | None]:
    """For each message (`subjects[i]`, of append `appends[i]`; an append's messages
    adjacent), the header saying what follows it in its append; None after its last."""
    found: list[str | None] = [None] * len(subjects)
    after: Counter[str] = Counter()
    for index in range(len(subjects) - 1, -1, -1):
        if index + 1 < len(subjects) and appends[index + 1] != appends[index]:
            after = Counter()
        if after:
            found[index] = " ".join(f"{subject}={n}" for subject, n in sorted(after.items()))
        after[subjects[index]] += 1
    return found


def still_to_come(header: str | None, filters: Iterable[str]) -> int:
    """How many messages of the append a consumer following `filters` has yet to get after
    the one carrying `header`."""
    if not header:
        return 0
    wanted = list(filters)
    total = 0
    for word in header.split():
        subject, _, count = word.rpartition("=")
        if subject and count.isdigit() and any(matches(f, subject) for f in wanted):
            total += int(count)
    return total


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` stands for one token, a final `>` for one or more."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(have) == len(want)
