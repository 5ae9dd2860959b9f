"""Rules for secrets recognised by what surrounds them: a key, a header, a URL, a checksum.

They come after the issuer rules, so an issuer's kind wins when both find the same span.
"""

import re

from mnemo.redaction.assignments import (
    assigned_secret,
    basic_auth_password,
    is_stand_in,
    spoken_password,
)
from mnemo.redaction.entropy import mixed_classes
from mnemo.redaction.luhn import plausible_card
from mnemo.redaction.rule import Rule

# Key names that may hold a secret; `assignments.key_kind` makes the final call on the key.
# The prefix is bounded so a long unbroken blob (a base64 image) cannot make the search
# quadratic.
_KEY = (
    r"(?P<key>[\w.-]{0,40}?"
    r"(?i:passw(?:or)?d|passphrase|passcode|pwd|pw|secret|token|api[_.-]?key|"
    r"access[_.-]?key|private[_.-]?key|credential|auth)"
    r"[\w.-]{0,40})"
)
_VALUE = (
    r"(?:\"(?P<dq>[^\"\s]{1,512})\"|'(?P<sq>[^'\s]{1,512})'"
    r"|(?P<bare>[^\s\"'`,;&<>(){}\[\]$%][^\s\"'`,;&]{0,511}))"
)
# After `:` or `=>` (YAML, prose, hashes) a bare value runs on through `&`, which only
# separates values in a query string (`?password=x&page=2`): `password: Tr0ub4dor&3` is
# one password.
_VALUE_WITH_AMP = _VALUE.replace(r"[^\s\"'`,;&]{0,511}", r"[^\s\"'`,;]{0,511}")
_VALUE_GROUPS = ("dq", "sq", "bare")
# `a.b.c` or `abc/def+` or `abc=`: base64/url-safe token text, without a sentence's last dot.
_TOKEN = r"[\w~+/-]+(?:\.[\w~+/-]+)*=*"


def _aws_secret(_match: re.Match[str], secret: str) -> bool:
    return mixed_classes(secret)


def _url_password(_match: re.Match[str], secret: str) -> bool:
    return not is_stand_in(secret)


def _header_credentials(_match: re.Match[str], secret: str) -> bool:
    # `Bearer YOUR_TOKEN` and `Bearer TOKEN` are documentation, not credentials.
    return len(secret) >= 8 and not is_stand_in(secret) and not secret.isupper()


def _spoken_bearer(_match: re.Match[str], secret: str) -> bool:
    return len(secret) >= 16 and _header_credentials(_match, secret) and mixed_classes(secret)


def _card(_match: re.Match[str], secret: str) -> bool:
    return plausible_card(secret)


_NAMES_A_LOGIN = re.compile(r"(?<!\S)(?:-u|--user|-h|--host|-S|--socket|--defaults-file)")


def _cli_password(match: re.Match[str], secret: str) -> bool:
    """A MySQL client's `-p` value: any, in a command that names whom it logs in as or
    where (`-u`, `-h`, `-S`, `--defaults-file`, before or after it); else one that does not
    read as a word or a cluster of flags (`-pretty`, `-pterb`): a digit, a capital or a
    symbol in it."""
    if len(secret) < 3 or is_stand_in(secret):
        return False
    line_end = match.string.find("\n", match.end())
    command = match.string[match.start() : line_end if line_end >= 0 else len(match.string)]
    if _NAMES_A_LOGIN.search(command):
        return True
    return any(c.isdigit() or c.isupper() or not c.isalnum() for c in secret)


CONTEXT_RULES: tuple[Rule, ...] = (
    # A secret access key written next to its access key id (`AKIA… / wJalr…`, `AKIA…:…`,
    # a CSV row): the pair says what the 40 characters are, without a key name.
    Rule(
        "aws_secret_key",
        re.compile(
            r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"
            r"[\"']?[ \t]*[,:;/|=]?[ \t]*[\"']?"
            r"(?P<secret>(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        ("secret",),
        _aws_secret,
    ),
    Rule(
        "aws_secret_key",
        re.compile(
            r"(?i:aws[_. -]?secret(?:[_. -]?access)?(?:[_. -]?key)?|secret[_. -]?access[_. -]?key)"
            r"[\"']?[ \t]*(?:=>|[:=])?[ \t]*[\"']?"
            r"(?P<secret>(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        ("secret",),
        _aws_secret,
    ),
    # Twilio auth tokens are bare 32-hex strings; only their context says whose they are:
    # a TWILIO_* key, or the account SID (AC...) they are paired with in basic auth or a
    # client constructor. The SID itself identifies the account, like a user name, and stays.
    Rule(
        "twilio_key",
        re.compile(
            r"(?i:twilio)[\w.-]{0,30}[\"']?[ \t]*[:=][ \t]*[\"']?"
            r"(?P<secret>[0-9a-f]{32})(?![\w])"
        ),
        ("secret",),
    ),
    Rule(
        "twilio_key",
        re.compile(
            r"(?<![\w])AC[0-9a-f]{32}[\"']?[ \t]*[:,][ \t]*[\"']?(?P<secret>[0-9a-f]{32})(?![\w])"
        ),
        ("secret",),
    ),
    Rule(
        "card_number",
        # A number of its own: not glued to letters (hex, ids) nor part of a longer number.
        re.compile(r"(?<![\w.])(?<!\d[ -])(?:\d[ -]?){12,18}\d(?![ -]?\d)(?![\w])"),
        (0,),
        _card,
    ),
    Rule(
        "url_password",
        re.compile(
            r"(?<![\w+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:/@?#]*:"
            r"(?P<secret>[^\s@/?#]+)@(?=[\w\[])"
        ),
        ("secret",),
        _url_password,
    ),
    Rule(
        "bearer_token",
        re.compile(
            r"(?i:authorization)[\"']?[ \t]*[:=][ \t]*[\"']?(?i:bearer|token|basic)[ \t]+"
            r"(?P<secret>" + _TOKEN + r")"
        ),
        ("secret",),
        _header_credentials,
    ),
    Rule(
        "bearer_token",
        re.compile(
            r"(?i:\bbearer(?:[ \t]+token)?)(?:[ \t]*[:=][ \t]*|[ \t]+)[\"']?"
            r"(?P<secret>" + _TOKEN + r")"
        ),
        ("secret",),
        _spoken_bearer,
    ),
    Rule(
        "generic_secret",
        re.compile(
            r"(?<![\w.-])" + _KEY + r"[\"']?[ \t]*(?::=|=)(?!>)[ \t]*" + _VALUE,
        ),
        _VALUE_GROUPS,
        assigned_secret,
    ),
    Rule(
        "generic_secret",
        re.compile(
            r"(?<![\w.-])" + _KEY + r"[\"']?[ \t]*(?:=>|:(?!=))[ \t]*" + _VALUE_WITH_AMP,
        ),
        _VALUE_GROUPS,
        assigned_secret,
    ),
    # Command-line flags: `--db-password hunter2`, `--api-token=...` is an assignment above.
    Rule(
        "generic_secret",
        re.compile(r"(?<!\S)--?" + _KEY + r"[ \t]+" + _VALUE),
        _VALUE_GROUPS,
        assigned_secret,
    ),
    Rule(
        "generic_secret",
        re.compile(
            r"(?<!\S)(?:-u|--user)[ \t]+[\"']?[^\s:\"'$]+:(?P<secret>[^\s\"'@]+)[\"']?(?=\s|$)"
        ),
        ("secret",),
        basic_auth_password,
    ),
    # MySQL's and MariaDB's clients take the password glued to `-p` (`mysql -uroot -pS3cr3t`,
    # `-p'S3cr3t'`), within the one command: up to a `|`, `;`, `&` or line end outside
    # quotes, across a `\` line continuation; so `ssh -p2222` after `&&` and `pv -pterb`
    # after a pipe are not taken for it (`_cli_password` says which values are).
    Rule(
        "generic_secret",
        re.compile(
            r"(?<![\w-])(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlsh|mariadb|mariadb-dump)"
            r"(?![\w-])(?:\"[^\"\n]{0,200}\"|'[^'\n]{0,200}'|\\\n|[^\n|;&\"']){0,200}?"
            r"(?<!\S)-p(?:'(?P<sq>[^'\s]+)'|\"(?P<dq>[^\"\s]+)\"|(?P<bare>[^\s\"'-][^\s\"']*))"
        ),
        ("sq", "dq", "bare"),
        _cli_password,
    ),
    # "my wifi password is BlueFalcon42": people tell assistants their passwords in prose.
    Rule(
        "generic_secret",
        re.compile(
            r"(?i:\b(?:password|passcode|passphrase)[ \t]+(?:is|was)[ \t]*:?[ \t]+)"
            r"[\"'“]?(?P<secret>[^\s\"'”]*[^\s\"'”.,;:!?)])"
        ),
        ("secret",),
        spoken_password,
    ),
)
