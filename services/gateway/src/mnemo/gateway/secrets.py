"""Secrets out of what a caller sends, before it is published, stored, indexed or logged."""

from collections import Counter
from typing import Any

from mnemo.redaction import redact


def redact_text(text: str, counts: Counter[str]) -> str:
    result = redact(text)
    counts.update(result.counts)
    return result.text


def redact_value(value: Any, counts: Counter[str]) -> Any:
    """Every string inside `value` (dicts and lists included) with its secrets replaced."""
    if isinstance(value, str):
        return redact_text(value, counts)
    if isinstance(value, dict):
        return {key: redact_value(item, counts) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item, counts) for item in value]
    return value
