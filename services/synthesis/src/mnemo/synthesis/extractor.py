"""The built-in extractor: first-person statements matched by patterns, offline.

Deliberately small; it is the baseline that an LLM extractor and a measured quality set
will be compared against.
"""

import re
from dataclasses import dataclass

NAME = "rules-v1"


@dataclass(frozen=True)
class Rule:
    attribute: str
    kind: str  # static | dynamic
    pattern: re.Pattern[str]
    template: str
    confidence: float


_OBJ = r"(?P<value>[^.!?\n,;]{2,80})"

RULES = [
    Rule("name", "static", re.compile(rf"\bmy name is {_OBJ}", re.I), "Name is {}", 0.9),
    Rule(
        "employer", "static", re.compile(rf"\bI work (?:at|for) {_OBJ}", re.I), "Works at {}", 0.8
    ),
    Rule("location", "static", re.compile(rf"\bI live in {_OBJ}", re.I), "Lives in {}", 0.8),
    Rule(
        "preference",
        "static",
        re.compile(rf"\bI (?:really )?(?:like|love|prefer|enjoy) {_OBJ}", re.I),
        "Likes {}",
        0.7,
    ),
    Rule(
        "current_activity",
        "dynamic",
        re.compile(rf"\bI(?:'m| am) (?:currently )?(?:working on|building) {_OBJ}", re.I),
        "Working on {}",
        0.7,
    ),
]


@dataclass(frozen=True)
class Finding:
    attribute: str
    value: str
    statement: str
    kind: str
    confidence: float
    span: tuple[int, int]


def extract(text: str) -> list[Finding]:
    """Every rule match in `text`, in order of appearance; the same fact once."""
    found: dict[tuple[str, str], Finding] = {}
    for rule in RULES:
        for match in rule.pattern.finditer(text):
            value = match.group("value").strip()
            key = (rule.attribute, value.lower())
            if key in found:
                continue
            found[key] = Finding(
                attribute=rule.attribute,
                value=value,
                statement=rule.template.format(value),
                kind=rule.kind,
                confidence=rule.confidence,
                span=(match.start(), match.end()),
            )
    return sorted(found.values(), key=lambda f: f.span)
