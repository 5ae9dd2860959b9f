"""Is the value next to a key a secret? Judgements for `key=value` style assignments.

The key decides how much evidence the value needs. A key that says *password* is taken at
its word: `password: hunter2` is redacted although `hunter2` looks like a word, because the
writer has told us what it is. Any other secret-sounding key (`token`, `api_key`, `auth`,
`client_secret`) also names plenty of harmless settings (`token_type: bearer`,
`max_tokens: 4096`, `auth: true`), so there the value must also look machine-generated.
"""

import re

from mnemo.redaction.entropy import looks_random

_PASSWORD_WORD = re.compile(r"passw(?:or)?d|passphrase|passcode|pwd")
_SECRET_WORD = re.compile(
    r"secret|token(?!s|iz)|apikey|accesskey|privatekey|credential|auth(?!or(?!ization)|ent)"
)
# A last key segment that says the value is about the secret, not the secret itself.
ABOUT_THE_SECRET = frozenset(
    [
        "type",
        "url",
        "uri",
        "endpoint",
        "count",
        "limit",
        "len",
        "length",
        "size",
        "ttl",
        "expiry",
        "expires",
        "expiration",
        "at",
        "in",
        "path",
        "file",
        "dir",
        "name",
        "names",
        "id",
        "ids",
        "header",
        "field",
        "prefix",
        "suffix",
        "usage",
        "budget",
        "policy",
        "method",
        "methods",
        "mode",
        "modes",
        "provider",
        "providers",
        "enabled",
        "required",
        "hint",
        "label",
        "format",
        "version",
        "rotation",
        "strength",
        "scope",
        "scopes",
        "kind",
        "kinds",
        "types",
        "ref",
        "issuer",
        "audience",
        "algorithm",
        "alg",
        "timeout",
        "interval",
        "min",
        "max",
        "env",
        "var",
    ]
)
# Values that stand for "no value here" or name a type in code, never a real secret.
NOT_A_VALUE = frozenset(
    [
        "none",
        "null",
        "nil",
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "required",
        "optional",
        "str",
        "string",
        "int",
        "bytes",
        "secretstr",
        "text",
        "hidden",
        "redacted",
        "masked",
        "empty",
        "undefined",
        "unset",
        "example",
        "placeholder",
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "n/a",
        "tbd",
        "todo",
    ]
)
# `apiKey` -> api|Key, `XAPIKey` -> XAPI|Key: where a camelCase or acronym word ends.
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_KEY_SEPARATORS = re.compile(r"[-_.\s]+")
_DOTTED_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+")
_SNAKE_NAME = re.compile(r"[a-z]+(?:_[a-z]+)+")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_PATH = re.compile(r"(?:/|\./|\.\./|~/|[A-Za-z]:\\)")
_CALL_OR_INDEX = re.compile(r"\w[(\[]")
_PROSE_FOLLOWS = re.compile(r"[ \t]+[A-Za-z]")


def key_segments(key: str) -> list[str]:
    """The words of a key, lower case: `X-API-Key`, `x_api_key` and `xApiKey` alike."""
    return [s for s in _KEY_SEPARATORS.split(_CAMEL_HUMP.sub("_", key).lower()) if s]


def key_kind(key: str) -> str | None:
    """`"password"`, `"secret"`, or None when the key does not name a secret."""
    segments = key_segments(key)
    if not segments or segments[-1] in ABOUT_THE_SECRET:
        return None
    compact = "".join(segments)
    # `pw` only as a word of its own (`pw`, `db_pw`, `rootPw`): inside a word it is not one.
    if _PASSWORD_WORD.search(compact) or "pw" in segments:
        return "password"
    if _SECRET_WORD.search(compact):
        return "secret"
    return None


def is_stand_in(value: str) -> bool:
    """True for templates, masks, references and type names written where a secret goes."""
    if value[0] in "$%{<[(" or "..." in value:
        return True
    if set(value.lower()) <= set("*x•.#-"):
        return True
    lowered = value.lower()
    return lowered in NOT_A_VALUE or lowered.startswith("your")


def is_code_or_path(value: str) -> bool:
    """True for `os.environ`, `settings.db_password`, `hashed_password`, `/run/secrets/x`."""
    return (
        _DOTTED_NAME.fullmatch(value) is not None
        or _SNAKE_NAME.fullmatch(value) is not None
        or _ENV_NAME.fullmatch(value) is not None
        or _PATH.match(value) is not None
    )


def assigned_secret(match: re.Match[str], value: str) -> bool:
    """Check for an assignment rule: the key names a secret and the value is one."""
    kind = key_kind(match.group("key"))
    if kind is None or is_stand_in(value):
        return False
    quoted = match.group("bare") is None
    if not quoted:
        # `getpass()`, `os.environ["X"]`, `Optional[str]`: code that fetches the secret.
        call_or_index = _CALL_OR_INDEX.search(match.string, match.start("bare"), match.end() + 1)
        if call_or_index or is_code_or_path(value):
            return False
    if kind == "secret":
        return looks_random(value)
    if len(value) < 4:
        return False
    # `Tip for password: use a manager` is prose about a password, `password: letmein` at
    # the end of a line is a password.
    prose = not quoted and value.isalpha() and _PROSE_FOLLOWS.match(match.string, match.end())
    return not prose


def spoken_password(_match: re.Match[str], value: str) -> bool:
    """Check for "my password is X": X must not be an ordinary word."""
    if len(value) < 6 or is_stand_in(value):
        return False
    symbol = any(not c.isalnum() for c in value)
    digit = any(c.isdigit() for c in value)
    inner_upper = any(c.isupper() for c in value[1:])
    return symbol or digit or inner_upper


def basic_auth_password(_match: re.Match[str], value: str) -> bool:
    """Check for `curl -u user:password`."""
    return len(value) >= 3 and not is_stand_in(value)
