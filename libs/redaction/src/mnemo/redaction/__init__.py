"""Secret redaction for user content, applied before anything is stored, indexed, logged
or published.

Exports `redact`, which replaces each secret with a typed placeholder such as
`[REDACTED:github_token]`, and its result types `Redacted` (the new text, counts per kind,
the redactions) and `Redaction` (one secret's kind and span in the original text). `KINDS`
lists every kind `redact` can report. Redaction is idempotent: placeholders are never
redacted again.

`redact_value` does the same for any JSON value (metadata): every string through `redact`,
and every string under a field whose name says it holds a secret (`password`, `apiKey`,
`x-api-key`, ... at any depth) replaced whole; `names_secret` is that test on a name.
"""

from mnemo.redaction.fields import names_secret, redact_value
from mnemo.redaction.redactor import RULES, Redacted, Redaction, redact

KINDS: frozenset[str] = frozenset(rule.kind for rule in RULES)

__all__ = ["KINDS", "Redacted", "Redaction", "names_secret", "redact", "redact_value"]
