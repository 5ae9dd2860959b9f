"""Secrets out of what a caller sends, before it is published, stored, indexed or logged.

Text goes through the redaction rules; structured values (metadata) also lose every string
under a field whose name says it is a secret (see `mnemo.redaction.fields`).
"""

from collections import Counter

from mnemo.redaction import redact, redact_value


def redact_text(text: str, counts: Counter[str]) -> str:
    result = redact(text)
    counts.update(result.counts)
    return result.text


__all__ = ["redact_text", "redact_value"]
