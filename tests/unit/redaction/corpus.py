"""Texts with exactly one fake secret each (POSITIVES) and look-alikes with none (NEGATIVES).

Every secret is generated from a seeded random source, and vendor prefixes are split, so the
repository holds no string a secret scanner would flag and the corpus is the same each run.
"""

import base64
import json
import random
import string
from dataclasses import dataclass

_rng = random.Random(1729)
ALNUM = string.ascii_letters + string.digits
UPPER32 = string.ascii_uppercase + "234567"
UPPER_ALNUM = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
DIGITS = string.digits


@dataclass(frozen=True)
class Positive:
    """A text holding one secret, the secret's exact text, and the kind it must get."""

    text: str
    kind: str
    secret: str


def draw(alphabet: str, size: int) -> str:
    """`size` characters from `alphabet`, from the corpus's seeded random source."""
    return "".join(_rng.choice(alphabet) for _ in range(size))


def luhn_complete(prefix: str, length: int) -> str:
    """A Luhn-valid card number of `length` digits starting with `prefix`."""
    body = prefix + draw(DIGITS, length - len(prefix) - 1)
    for check in DIGITS:
        digits = body + check
        total = sum(
            (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
            for i, d in enumerate(int(c) for c in reversed(digits))
        )
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable: one check digit always fits")


def luhn_broken(prefix: str, length: int) -> str:
    """A card-shaped number that fails Luhn: a valid one with its last digit bumped."""
    valid = luhn_complete(prefix, length)
    return valid[:-1] + str((int(valid[-1]) + 1) % 10)


def grouped(digits: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    parts, at = [], 0
    for size in sizes:
        parts.append(digits[at : at + size])
        at += size
    return sep.join(parts)


def _b64url_json(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def fake_jwt() -> str:
    header = _b64url_json({"alg": "HS256", "typ": "JWT"})
    payload = _b64url_json({"sub": draw(DIGITS, 10), "name": "Ada", "iat": 1716239022})
    return f"{header}.{payload}.{draw(B64URL, 43)}"


def fake_pem(label: str, lines: int = 6, escaped: bool = False) -> str:
    newline = "\\n" if escaped else "\n"
    dashes = "-" * 5
    body = newline.join(draw(B64, 64) for _ in range(lines))
    head = f"{dashes}BEGIN {label}PRIVATE KEY{dashes}"
    tail = f"{dashes}END {label}PRIVATE KEY{dashes}"
    return f"{head}{newline}{body}{newline}{tail}"


def _p(kind: str, secret: str, template: str) -> Positive:
    return Positive(template.replace("<S>", secret), kind, secret)


SK = "sk" + "-"
GH = "gh"
XOX = "xo" + "x"
STRIPE_LIVE = "sk" + "_live_"
STRIPE_TEST = "sk" + "_test_"


POSITIVES: tuple[Positive, ...] = (
    # OpenAI
    _p("openai_api_key", SK + draw(ALNUM, 48), "export OPENAI_API_KEY=<S>"),
    _p(
        "openai_api_key",
        SK + "proj-" + draw(B64URL, 120),
        'client = OpenAI(api_key="<S>")  # TODO move to env',
    ),
    _p("openai_api_key", SK + draw(ALNUM, 48), "hey can you check why <S> returns 401?"),
    _p(
        "openai_api_key",
        SK + "svcacct-" + draw(B64URL, 80),
        '{"provider": "openai", "key": "<S>", "model": "gpt-4o"}',
    ),
    # Anthropic
    _p(
        "anthropic_api_key",
        SK + "ant-api03-" + draw(B64URL, 93) + "AA",
        "ANTHROPIC_API_KEY=<S>",
    ),
    _p(
        "anthropic_api_key",
        SK + "ant-api03-" + draw(B64URL, 93) + "AA",
        "curl https://api.anthropic.com/v1/messages -H 'x-api-key: <S>' -d @req.json",
    ),
    _p(
        "anthropic_api_key",
        SK + "ant-admin01-" + draw(B64URL, 90),
        "I rotated the admin key, the new one is <S> so update the vault",
    ),
    # AWS
    _p("aws_access_key", "AKIA" + draw(UPPER32, 16), "aws_access_key_id = <S>"),
    _p(
        "aws_access_key",
        "ASIA" + draw(UPPER32, 16),
        "The temporary creds start with <S>, valid for an hour.",
    ),
    _p("aws_access_key", "AKIA" + draw(UPPER32, 16), '{"AccessKeyId": "<S>", "Status": "Active"}'),
    _p(
        "aws_secret_key",
        draw(B64, 40),
        "[default]\naws_secret_access_key = <S>\nregion = eu-west-1",
    ),
    _p("aws_secret_key", draw(B64, 40), "export AWS_SECRET_ACCESS_KEY=<S>"),
    _p("aws_secret_key", draw(B64, 40), '{"SecretAccessKey": "<S>", "SessionToken": null}'),
    # GitHub
    _p(
        "github_token",
        GH + "p_" + draw(ALNUM, 36),
        "git clone https://github.com/acme/app.git then use <S>",
    ),
    _p("github_token", GH + "o_" + draw(ALNUM, 36), "GITHUB_TOKEN: <S>"),
    _p("github_token", GH + "s_" + draw(ALNUM, 36), "the actions runner printed <S> in the log!"),
    _p(
        "github_token",
        "github_" + "pat_" + draw(ALNUM, 22) + "_" + draw(ALNUM, 59),
        "Fine-grained PAT for the deploy bot: <S>",
    ),
    _p("github_token", GH + "u_" + draw(ALNUM, 36), "token=<S>"),
    # GitLab
    _p("gitlab_token", "gl" + "pat-" + draw(B64URL, 20), "CI_JOB_PUSH=<S>"),
    _p(
        "gitlab_token",
        "gl" + "pat-" + draw(ALNUM, 20),
        'curl --header "PRIVATE-TOKEN: <S>" https://gitlab.example.com/api/v4/projects',
    ),
    # Slack
    _p(
        "slack_token",
        XOX + "b-" + draw(DIGITS, 12) + "-" + draw(DIGITS, 13) + "-" + draw(ALNUM, 24),
        "SLACK_BOT_TOKEN=<S>",
    ),
    _p(
        "slack_token",
        XOX + "p-" + draw(DIGITS, 11) + "-" + draw(DIGITS, 12) + "-" + draw(HEX, 32),
        "my user token is <S>, don't share it",
    ),
    _p(
        "slack_webhook",
        "https://hooks.slack.com/services/T"
        + draw(UPPER_ALNUM, 8)
        + "/B"
        + draw(UPPER_ALNUM, 10)
        + "/"
        + draw(ALNUM, 24),
        "Alerts go to <S> (channel #ops)",
    ),
    _p(
        "slack_webhook",
        "https://hooks.slack.com/services/T"
        + draw(UPPER_ALNUM, 9)
        + "/B"
        + draw(UPPER_ALNUM, 11)
        + "/"
        + draw(ALNUM, 24),
        "curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"hi\"}' <S>",
    ),
    # Stripe
    _p("stripe_key", STRIPE_LIVE + draw(ALNUM, 24), "STRIPE_SECRET=<S>"),
    _p("stripe_key", STRIPE_TEST + draw(ALNUM, 99), "stripe.api_key = '<S>'"),
    _p(
        "stripe_key", "rk" + "_live_" + draw(ALNUM, 24), "restricted key for the reporting job: <S>"
    ),
    _p("stripe_key", "wh" + "sec_" + draw(ALNUM, 32), "endpoint signing secret <S>"),
    # Google
    _p("google_api_key", "AI" + "za" + draw(B64URL, 35), "maps key: <S>"),
    _p(
        "google_api_key",
        "AI" + "za" + draw(B64URL, 35),
        "https://maps.googleapis.com/maps/api/geocode/json?address=Paris&key=<S>",
    ),
    # Twilio
    _p("twilio_key", "SK" + draw(HEX, 32), "Twilio API key SID <S> with its secret in 1Password"),
    _p("twilio_key", draw(HEX, 32), "TWILIO_AUTH_TOKEN=<S>"),
    _p(
        "twilio_key",
        draw(HEX, 32),
        "curl -X POST https://api.twilio.com/2010-04-01/Accounts -u AC" + draw(HEX, 32) + ":<S>",
    ),
    _p("twilio_key", draw(HEX, 32), 'client = Client("AC' + draw(HEX, 32) + '", "<S>")'),
    # SendGrid
    _p(
        "sendgrid_api_key",
        "SG." + draw(B64URL, 22) + "." + draw(B64URL, 43),
        "SENDGRID_API_KEY=<S>",
    ),
    _p(
        "sendgrid_api_key",
        "SG." + draw(B64URL, 22) + "." + draw(B64URL, 43),
        "new sendgrid key <S> — old one revoked",
    ),
    # JWT
    _p("jwt", fake_jwt(), "session cookie was <S>; expired yesterday"),
    _p("jwt", fake_jwt(), '{"id_token": "<S>", "expires_in": 3600}'),
    _p("jwt", fake_jwt(), "curl -H 'Authorization: Bearer <S>' https://api.example.com/me"),
    # Private keys
    _p("private_key", fake_pem("RSA "), "here's the deploy key:\n<S>\nthanks"),
    _p("private_key", fake_pem("OPENSSH "), "~/.ssh/id_ed25519 contains\n<S>\n"),
    _p(
        "private_key",
        fake_pem("", escaped=True),
        '{"type": "service_account", "private_key": "<S>\\n"}',
    ),
    _p("private_key", fake_pem("EC ", lines=3), "<S>"),
    # Passwords in URLs
    _p("url_password", draw(ALNUM, 16), "DATABASE_URL=postgres://app:<S>@db.internal:5432/app"),
    _p("url_password", draw(ALNUM, 20), "redis://:<S>@cache-1.prod:6379/0"),
    _p(
        "url_password",
        "Pa55-" + draw(ALNUM, 8),
        "mongodb+srv://admin:<S>@cluster0.ab1cd.mongodb.net/test",
    ),
    _p(
        "url_password",
        "guest" + draw(DIGITS, 3),
        "broker at amqp://guest:<S>@rabbit:5672// for now",
    ),
    # Bearer tokens
    _p(
        "bearer_token",
        "ya29." + draw(B64URL, 60),
        'curl -H "Authorization: Bearer <S>" https://www.googleapis.com/drive/v3/files',
    ),
    _p("bearer_token", draw(ALNUM, 40), '{"headers": {"Authorization": "Bearer <S>"}}'),
    _p("bearer_token", draw(ALNUM, 32), "use bearer <S> for the staging API"),
    _p(
        "bearer_token",
        base64.b64encode(b"admin:" + draw(ALNUM, 12).encode()).decode(),
        "Authorization: Basic <S>",
    ),
    # Card numbers
    _p("card_number", grouped(luhn_complete("4", 16), (4, 4, 4, 4)), "my card is <S>, exp 09/27"),
    _p("card_number", luhn_complete("51", 16), "charge <S> for the order please"),
    _p("card_number", grouped(luhn_complete("37", 15), (4, 6, 5)), "Amex <S> on file"),
    _p("card_number", grouped(luhn_complete("6011", 16), (4, 4, 4, 4), "-"), "Discover: <S>"),
    _p("card_number", luhn_complete("4", 13), "old visa <S> still works?"),
    _p("card_number", luhn_complete("2221", 16), '{"pan": "<S>", "cvv": "***"}'),
    # Mnemo's own keys and MEMANTO session tokens
    _p("mnemo_key", "mk_" + "dev_" + draw(HEX, 32), "the dev key is <S>, from MNEMO_HOME"),
    _p("mnemo_key", "ak_" + draw(B64URL, 43), "curl -H 'Authorization: Bearer <S>' :8080/v1/"),
    _p("mnemo_key", "ms" + "t_" + draw(B64URL, 43), "X-Session-Token: <S>"),
    # Generic secrets in assignments
    _p("generic_secret", "hunter2", "password: hunter2"),
    _p("generic_secret", "Tr0ub4dor&3qZx", "the router's admin password: Tr0ub4dor&3qZx"),
    _p("generic_secret", "letmein!", "DB_PASSWORD=letmein!"),
    _p("generic_secret", "Tr0ub4dor&3", '{"username": "ada", "password": "Tr0ub4dor&3"}'),
    _p("generic_secret", draw(ALNUM, 32), "client_secret: <S>"),
    _p("generic_secret", draw(HEX, 40), "api_key=<S>"),
    _p("generic_secret", draw(ALNUM, 24), "https://api.example.com/v1/items?apikey=<S>&page=2"),
    _p("generic_secret", draw(B64URL, 30), "X-Api-Key: <S>"),
    _p("generic_secret", draw(ALNUM, 28), 'const config = { authToken: "<S>", retries: 3 };'),
    _p("generic_secret", "django-insecure-" + draw(ALNUM + "!@#%^&*", 50), "SECRET_KEY = '<S>'"),
    _p("generic_secret", "s3cret-" + draw(ALNUM, 6), "mysql --host db --db-password <S> app"),
    _p("generic_secret", draw(ALNUM, 14), "curl -u deploy:<S> https://ci.example.com/job/build"),
    _p("generic_secret", "BlueFalcon42", "btw my wifi password is BlueFalcon42."),
    _p("generic_secret", draw(ALNUM, 20), "spring.datasource.password=<S>"),
    _p("generic_secret", "correct-horse-7", "passphrase: 'correct-horse-7'"),
    _p("generic_secret", draw(HEX, 32), "webhook_secret => <S>"),
    _p("generic_secret", draw(B64, 44), "  private_key: <S>\n  region: us-east-1"),
    # Glued to a word by `-` or `_`, as people name things: still the key.
    _p("github_token", GH + "p_" + draw(ALNUM, 36), "deploy token is prod-<S> for now"),
    _p("github_token", GH + "p_" + draw(ALNUM, 36), "sessionId sess_<S>_old"),
    _p("jwt", fake_jwt(), "session cookie sid-<S>"),
    _p("stripe_key", STRIPE_LIVE + draw(ALNUM, 24), "billing-<S>"),
    _p("openai_api_key", SK + "proj-" + draw(B64URL, 60) + "9", "OPENAI=team-<S>"),
    _p("generic_secret", "Qx7!vL2#pw", "pw: Qx7!vL2#pw"),
    _p("generic_secret", draw(ALNUM, 12), "db_pw=<S>"),
    _p("generic_secret", "S3cr3t" + draw(ALNUM, 6), "mysql -uroot -p<S> shop < dump.sql"),
    _p("generic_secret", "hunter22", "mysqldump -h db -u app -phunter22 --all-databases"),
    _p("generic_secret", "Pa55" + draw(ALNUM, 8), "mariadb-dump -p<S> --user=app shop > x.sql"),
    _p("generic_secret", "Xk9vQ2mzLp", "mysqldump -p<S> --all-databases > all.sql"),
    _p("generic_secret", "Xk9vQ2mzLp", "docker exec -it db mysql -p<S> -e 'show tables'"),
    _p("generic_secret", "Xk9vQ2mzLp", 'mysql -e "DROP DATABASE old;" -uroot -p<S>'),
    _p("generic_secret", "Ab&Xk9vQ2m", "mysql -uroot -p<S>"),
    _p("generic_secret", "S3cr3tPw", "mysql -h db \\\n  -u app -p'<S>' shop"),
)


NEGATIVES: tuple[str, ...] = (
    # Prefixes inside ordinary hyphenated words and commands
    "pip install the sk-learn-compatible-estimators package",
    "run mysql -u root -p shop and type the password when asked",
    "mysqldump mydb | pv -pterb > dump.sql",
    "mysql -uroot -e 'select 1' && ssh -p2222 backup@host",
    "mysql -uroot -e 'show tables' ; docker run -p8080:80 nginx",
    "We migrated from mysql to postgres -pretty painless",
    "pwm_duty: 50, npw: 3, the pwd command prints the folder",
    # Identifiers and hashes
    "Request 3f1c2b9e-7d4a-4e8b-9c1f-2a6b8d0e4f13 failed with a timeout.",
    "user_id: 550e8400-e29b-41d4-a716-446655440000",
    "Fixed in commit 3f2a9c1, see the PR.",
    "git checkout 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "Reverted a1b2c3d4e5f60718293a4b5c6d7e8f9012345678 because it broke CI.",
    "the sha256 is e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "md5 of the tarball: d41d8cd98f00b204e9800998ecf8427e",
    "sha256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    '"etag": "W/\\"5e8f3a2b1c\\""',
    "docker pull nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
    # Orders, phones, dates, addresses
    "Your order #123456789 has shipped.",
    "Invoice INV-2024-000187 is due on 2024-07-01.",
    "Tracking number 1Z999AA10123456784, arriving Tuesday.",
    "Call me at +1 (415) 555-0132 or +44 20 7946 0958.",
    "My number is 415-555-0199, text first.",
    "Meeting moved to 2024-05-17T14:30:00Z (UTC).",
    "The job ran at 2023-11-02 08:15:42.123456+00:00 and took 4.2s.",
    "created_at: 1716239022, updated_at: 1716239999",
    "The event timestamp was 1700000000000 ms since epoch.",
    "Server is at 192.168.1.42, gateway 10.0.0.1, and 2001:db8::8a2e:370:7334 on v6.",
    "Upgrade to version 2.14.3-rc.1 before 3.0.0.",
    "ISBN 978-3-16-148410-0 is the second edition.",
    "Account number 12345678, sort code 12-34-56.",
    "The parcel weighs 1234 5678 9012 3456 grams in total, apparently.",
    "Ref 4111 1111 1111 1112 was rejected by the bank.",
    "card ending 4242, expires 12/26",
    # Words that sound like secrets
    "The secret to good bread is time.",
    "Don't tell anyone the secret: she's moving to Lisbon.",
    "Each token costs a fraction of a cent; we used 1.2M tokens yesterday.",
    "max_tokens: 4096",
    '{"token_type": "bearer", "expires_in": 3600, "scope": "read"}',
    "tokenizer: cl100k_base",
    "The password is stored as a bcrypt hash, never in plain text.",
    "Your password is too short; use at least 12 characters.",
    "password_min_length: 12",
    "Tip for password: use a manager.",
    "author: Jane Austen",
    "auth: true",
    "auth_provider: google-oauth2",
    "secret_name: app-db-credentials",
    "He was the bearer of bad news.",
    "Use bearer authentication for every request.",
    "Authorization: Bearer $TOKEN",
    "Authorization: Bearer YOUR_ACCESS_TOKEN",
    "-H 'Authorization: Bearer <your-token>'",
    # Code and config that reference secrets without holding them
    'password = os.environ["DB_PASSWORD"]',
    "self.password = password",
    "password: str",
    "password: Optional[str] = None",
    'const token = await getToken("user");',
    "api_key = settings.openai_api_key",
    "DATABASE_URL=postgres://app:${POSTGRES_PASSWORD}@db:5432/app",
    "password: ********",
    'password: "<your password here>"',
    "secretKeyRef: {name: db, key: DB_PASSWORD}",
    "pwd: /home/ada/projects",
    "password_file: /run/secrets/db_password",
    '<input type="password" name="password" autocomplete="current-password">',
    "api_key = getpass()",
    # Prefix look-alikes, paths, URLs, emails
    "Got new sk-8 ski boots and sk-learn compatible estimators.",
    "pip install scikit-learn; the task-sk-2024 ticket is done",
    "Path is /Users/ada/Library/Application Support/Code/User/settings.json",
    "C:\\Program Files\\Git\\bin\\git.exe",
    "See https://docs.python.org/3/library/re.html#re.Pattern for details.",
    "https://example.com:8443/path?q=1&page=2",
    "Clone with git@github.com:acme/widgets.git",
    "ssh://git@gitlab.example.com:2222/group/project.git",
    "Write to ada.lovelace@example.org or ops+alerts@acme.io.",
    "mailto:support@example.com?subject=Help",
    "The AWS region is eu-west-1 and the bucket is acme-logs-2024.",
    "Our slack channel is #ops-alerts and the bot is called xox-bot.",
    "Use the AKIA prefix check in the linter.",
    "The Twilio account SID AC" + draw(HEX, 32) + " is not secret.",
    "Keys start with mk_ (master) or ak_ (agent); mk_dev_ is the development key.",
    "rename mk_directory_listing_helper to ak_archive_keeper_function",
    "data:image/png;base64,"
    + base64.b64encode(bytes(_rng.randrange(256) for _ in range(300))).decode(),
)


@dataclass(frozen=True)
class FieldPositive:
    """Metadata holding one secret under a field that names it, and the kind it must get."""

    value: dict[str, object]
    kind: str
    secret: str


def _f(kind: str, secret: str, shape: object) -> FieldPositive:
    """`shape` with the string "<S>" (wherever it sits) replaced by `secret`."""
    filled = json.loads(json.dumps(shape).replace('"<S>"', json.dumps(secret)))
    return FieldPositive(filled, kind, secret)


_G = "generic_secret"

# Secrets recognisable only by the name of their field: the values alone look like words.
FIELD_POSITIVES: tuple[FieldPositive, ...] = (
    _f(_G, "Tr0ub4dor&3qZxWv", {"password": "<S>"}),
    _f(_G, "Tr0ub4dor&3qZxWv", {"x": [{"password": "<S>"}]}),
    _f(_G, draw(B64, 40), {"aws_secret_access_key": "<S>"}),
    _f(_G, "hunter2", {"passwd": "<S>", "user": "ada"}),
    _f(_G, "letmein", {"login": {"pwd": "<S>"}}),
    _f(_G, "rosebud", {"secret": "<S>"}),
    _f(_G, draw(ALNUM, 12), {"client_secret": "<S>", "client_id": "web-app"}),
    _f(_G, "abc123", {"token": "<S>"}),
    _f(_G, draw(ALNUM, 10), {"access_token": "<S>", "token_type": "bearer", "expires_in": 3600}),
    _f(_G, draw(ALNUM, 10), {"refresh_token": "<S>"}),
    _f(_G, "devkey1", {"api_key": "<S>"}),
    _f(_G, "devkey2", {"apikey": "<S>"}),
    _f(_G, "devkey3", {"apiKey": "<S>"}),
    _f(_G, "devkey4", {"API-KEY": "<S>"}),
    _f(_G, "devkey5", {"headers": {"x-api-key": "<S>", "accept": "application/json"}}),
    _f(_G, "MIIEvQIBADANBgkq", {"private_key": "<S>", "private_key_id": "k1"}),
    _f(_G, "ada:opensesame", {"credentials": "<S>"}),
    _f(_G, "Basic YWRhOm9wZW4=", {"authorization": "<S>"}),
    _f(_G, "opensesame", {"auth": "<S>"}),
    _f(_G, "FwoGZXIvYXdzE", {"aws": {"session_token": "<S>"}}),
    _f(_G, "correct horse battery staple", {"passphrase": "<S>"}),
    _f(_G, "blue-falcon", {"db": {"connection": {"PASSWORD": "<S>", "host": "db.internal"}}}),
    _f(_G, "opensesame", {"SecretAccessKey": "<S>"}),
    _f(_G, "opensesame", {"credentials": {"type": "service_account", "pass": "<S>"}}),
    _f(_G, "opensesame", {"credentials": ["<S>"]}),
    _f(_G, "opensesame", {"secrets": {"db": "<S>"}}),
    _f(_G, "opensesame", {"items": [[{"Auth-Token": "<S>"}]]}),
    _f(_G, "opensesame", {"DB_PASSWORD": "<S>"}),
    _f(_G, "opensesame", {"password2": "<S>"}),
    _f(_G, "opensesame", {"signingKey": "<S>"}),
    _f(_G, "opensesame", {"bearer": "<S>"}),
    _f(_G, "opensesame", {"X-Amz-Security-Token": "<S>"}),
    _f("github_token", GH + "p_" + draw(ALNUM, 36), {"deploy": {"token": "<S>"}}),
    _f("mnemo_key", "ak_" + draw(B64URL, 43), {"mnemo": {"apiKey": "<S>"}}),
)

# Fields whose names only look like a secret's, and values that are no secret anywhere.
FIELD_NEGATIVES: tuple[dict[str, object], ...] = (
    {"token_count": 1234},
    {"max_tokens": 4096, "temperature": 0.2},
    {"tokens": 812},
    {"password_hint": "my first pet"},
    {"token_type": "bearer"},
    {"secretary": "Ada Lovelace"},
    {"keyboard": "dvorak"},
    {"author": "Jane Austen", "authors": ["Jane Austen", "Mary Shelley"]},
    {"authority": "FAA"},
    {"auth": True},
    {"auth": "bearer"},
    {"authorization": "none"},
    {"password": ""},
    {"password": None},
    {"password": "********"},
    {"password": "[REDACTED:generic_secret]"},
    {"api_key": 42},
    {"secret_name": "app-db-credentials"},
    {"auth_provider": "google-oauth2"},
    {"api_key_id": "key-2024-01"},
    {"password_changed_at": "2024-05-01T10:00:00Z"},
    {"token_expires_in": 3600},
    {"tokenizer": "cl100k_base"},
    {"credential_type": "service_account"},
    {"key": "color", "keys": ["a", "b"], "monkey": "banana"},
    {"passenger": "Ada", "passport_country": "FR"},
    {"tags": ["secret", "password", "token"]},
    {"topic": "how to reset a password", "title": "Token economics"},
    {"note": "The secret to good bread is time."},
    {"private": True, "is_secret": False, "has_password": True},
    {"secrets_count": 3},
    {"session_id": "s-123", "api_version": "2024-06-01"},
    {"auth_methods": ["password", "otp"]},
    {"credentials": {"type": "service_account", "expires_at": "2025-01-01"}},
    {"authentication": "required"},
)
