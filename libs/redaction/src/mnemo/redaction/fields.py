"""Secrets recognised by the name of the field that holds them: `{"password": "..."}`.

In structured data (metadata, headers, a config pasted as JSON) the key is the writer's own
label for the value, stronger evidence than any context a text rule sees: a string under a
key that names a secret is taken for one whatever it looks like, at any depth. The text
rules still run on every other string, so a token under an innocent key is found by its
shape.

A key names a secret when one of its words, or two or three adjacent words run together,
is a secret word (`password`, `api_key`, `x-api-key`, `apiKey`, `aws_secret_access_key`),
unless its last word says the value is *about* the secret (`token_count`, `password_hint`,
`secret_name`, `auth_provider`). Words are whole: `secretary`, `keyboard`, `author`,
`max_tokens` and `tokenizer` name nothing secret. Booleans, numbers, null and empty strings
are never secrets, nor are words that stand for no value (`none`, `redacted`, `****`) or
name an authentication scheme (`{"auth": "bearer"}`).

Under a key that names a secret, the whole value is secret: the strings of a list, and the
strings of an object except those under keys about the secret (`{"credentials": {"type":
"service_account", "user": "ada", "pass": "..."}}` keeps only `type`).
"""

from collections import Counter
from typing import Any

from mnemo.redaction.assignments import ABOUT_THE_SECRET, NOT_A_VALUE, key_segments
from mnemo.redaction.redactor import redact
from mnemo.redaction.rule import PLACEHOLDER, placeholder

SECRET_WORDS = frozenset(
    [
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "passcode",
        "secret",
        "secrets",
        "token",
        "apikey",
        "accesskey",
        "secretkey",
        "privatekey",
        "signingkey",
        "credential",
        "credentials",
        "authorization",
        "auth",
        "bearer",
    ]
)
# What a field like `auth` or `authorization` holds when it names a scheme, not a credential.
_SCHEMES = frozenset(
    ["basic", "bearer", "digest", "oauth", "oauth2", "jwt", "apikey", "api_key", "hmac", "mtls"]
)
_MASK = frozenset("*x•.#-")
# Adjacent words run together: `api`+`key`, `pass`+`word`, `private`+`key`, `x`+`api`+`key`.
_RUN = 3
# A key longer than this is data, not a label; only the text rules judge what it holds.
_MAX_KEY = 200


def names_secret(key: str) -> bool:
    """True when a field called `key` holds a secret (see the module's docstring)."""
    if len(key) > _MAX_KEY:
        return False
    words = [w.rstrip("0123456789") for w in key_segments(key)]
    if not words or words[-1] in ABOUT_THE_SECRET:
        return False
    return any(
        "".join(words[start : start + size]) in SECRET_WORDS
        for size in range(1, _RUN + 1)
        for start in range(len(words) - size + 1)
    )


def is_about_the_secret(key: str) -> bool:
    """True for `type`, `token_type`, `expires_at`: what describes a secret beside it."""
    words = key_segments(key)
    return bool(words) and words[-1] in ABOUT_THE_SECRET


def holds_no_secret(value: str) -> bool:
    """True for strings that stand for no value even where a secret goes."""
    stripped = value.strip()
    lowered = stripped.lower()
    return (
        not stripped
        or set(lowered) <= _MASK
        or lowered in NOT_A_VALUE
        or lowered in _SCHEMES
        or PLACEHOLDER.fullmatch(stripped) is not None
    )


def redact_value(value: Any, counts: Counter[str], *, secret: bool = False) -> Any:
    """`value` (any JSON value) with every secret replaced by a typed placeholder; the
    kinds found are added to `counts`. `secret`: the value sits under a secret's name."""
    if isinstance(value, str):
        return _secret_string(value, counts) if secret else _redact_text(value, counts)
    if isinstance(value, dict):
        return {
            (_redact_text(key, counts) if isinstance(key, str) else key): redact_value(
                item, counts, secret=_secret_field(key, secret)
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(item, counts, secret=secret) for item in value]
    return value


def _secret_field(key: object, inside_secret: bool) -> bool:
    if not isinstance(key, str):
        return inside_secret
    if inside_secret:
        return not is_about_the_secret(key)
    return names_secret(key)


def _redact_text(text: str, counts: Counter[str]) -> str:
    result = redact(text)
    counts.update(result.counts)
    return result.text


def _secret_string(value: str, counts: Counter[str]) -> str:
    """The whole value as one placeholder; of the kind a text rule gives it when one rule
    finds all of it (a GitHub token under `token`), else `generic_secret`."""
    if holds_no_secret(value):
        return value
    found = redact(value).redactions
    whole = len(found) == 1 and not (value[: found[0].start] + value[found[0].end :]).strip()
    kind = found[0].kind if whole else "generic_secret"
    counts[kind] += 1
    return placeholder(kind)
