"""Secret redaction for user content, applied before anything is stored, indexed, logged
or published.

Exports `redact`, which replaces each secret with a typed placeholder such as
`[REDACTED:github_token]`, and its result types `Redacted` (the new text, counts per kind,
the redactions) and `Redaction` (one secret's kind and span in the original text). `KINDS`
lists every kind `redact` can report. Redaction is idempotent: placeholders are never
redacted again.
"""

from mnemo.redaction.redactor import RULES, Redacted, Redaction, redact

KINDS: frozenset[str] = frozenset(rule.kind for rule in RULES)

__all__ = ["KINDS", "Redacted", "Redaction", "redact"]
