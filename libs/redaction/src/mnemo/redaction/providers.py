"""Rules for credentials that announce their issuer by a fixed prefix or shape.

These are the most specific rules, so they come first in the rule table: when one of them
and a context rule (say `password=`) find the same span, the issuer's kind is reported.
"""

import re

from mnemo.redaction.entropy import mixed_classes
from mnemo.redaction.rule import Rule

# A token starts and ends where a run of letters and digits does: `_` and `-` are where
# people glue a key to a word (`prod-ghp_...`, `sid-eyJ...`, `ghp_..._old`), and a key glued
# so is still the key. What keeps words out is each issuer's prefix and its body's shape
# (`sk-learn-compatible-estimators` has no random body).
_START = r"(?<![A-Za-z0-9])"
_END = r"(?![A-Za-z0-9])"


def _has_digit_and_letter(_match: re.Match[str], secret: str) -> bool:
    return any(c.isdigit() for c in secret) and any(c.isalpha() for c in secret)


def _random_body(match: re.Match[str], _secret: str) -> bool:
    # The part after the fixed prefix must look generated, which keeps hyphenated words
    # such as `sk-learn-compatible-estimators` out.
    body = match.group("body")
    return mixed_classes(body) and any(c.isdigit() for c in body)


def _random_run(match: re.Match[str], _secret: str) -> bool:
    return mixed_classes(match.group("body"))


PROVIDER_RULES: tuple[Rule, ...] = (
    # Mnemo's own keys (`mk_` master, `ak_` agent, `mk_dev_` development) and MEMANTO
    # session tokens (`mst_`): pasted into a memory or caught in a log line, they go too,
    # also glued behind other text (`corr-mk_...`): their body is long and random enough.
    Rule(
        "mnemo_key",
        re.compile(r"(?<![A-Za-z0-9])(?:mk|ak|mst)_(?P<body>[\w-]{24,})" + _END),
        (0,),
        _random_run,
    ),
    Rule(
        "private_key",
        re.compile(
            r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
            # Anything but a run of five dashes, so the search from one BEGIN stops at the
            # next armour line: many BEGINs without an END stay linear, not quadratic.
            r"[^-]*(?:-(?!----)[^-]*)*"
            r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        ),
    ),
    # A pasted key cut off before its END line: the header and the base64 lines after it.
    Rule(
        "private_key",
        re.compile(
            r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
            r"(?:(?:\s|\\n)+[A-Za-z0-9+/=]{16,})*"
        ),
    ),
    Rule(
        "anthropic_api_key",
        re.compile(_START + r"sk-ant-(?P<body>[\w-]{20,})" + _END),
        (0,),
        _random_body,
    ),
    Rule(
        "openai_api_key",
        re.compile(_START + r"sk-(?!ant-)(?:proj-|svcacct-|admin-)?(?P<body>[\w-]{20,})" + _END),
        (0,),
        _random_body,
    ),
    Rule("github_token", re.compile(_START + r"gh[pousr]_[A-Za-z0-9]{30,255}" + _END)),
    Rule("github_token", re.compile(_START + r"github_pat_[A-Za-z0-9_]{30,255}(?![\w])")),
    Rule("gitlab_token", re.compile(_START + r"glpat-[\w-]{20,}(?:\.[\w-]+)*" + _END)),
    Rule(
        "slack_webhook",
        re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[\w/-]{10,}"),
    ),
    Rule(
        "slack_token",
        re.compile(_START + r"xox[abprs]-[A-Za-z0-9-]{10,}" + _END),
        (0,),
        _has_digit_and_letter,
    ),
    Rule("stripe_key", re.compile(_START + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}" + _END)),
    Rule("stripe_key", re.compile(_START + r"whsec_[A-Za-z0-9]{24,}" + _END)),
    Rule("google_api_key", re.compile(_START + r"AIza[\w-]{35}" + _END)),
    Rule(
        "aws_access_key",
        re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    ),
    Rule("twilio_key", re.compile(r"(?<![\w])SK[0-9a-f]{32}(?![\w])"), (0,), _has_digit_and_letter),
    Rule(
        "sendgrid_api_key",
        re.compile(r"(?<![A-Za-z0-9.])SG\.[\w-]{16,32}\.[\w-]{16,64}(?![\w-])"),
    ),
    Rule(
        "jwt",
        re.compile(_START + r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{10,}" + _END),
    ),
)
