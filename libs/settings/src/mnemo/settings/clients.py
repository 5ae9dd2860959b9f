"""What a client of the gateway (`mnemo tail`, `mnemo mcp`) is given to call it with: a URL
and a key, checked before any request, so that a wrong one is one line naming it, never a
traceback, a retry for ever, or a password sent in the key's place."""

import re
from urllib.parse import urlsplit

# What an Authorization header can carry of a key: printable ASCII, no space (Mnemo's keys
# are mk_ or ak_ and URL-safe characters). Anything else fails in the HTTP library.
KEY_TEXT = re.compile(r"[!-~]+")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be the gateway's address, or None: it must be an http(s) URL with
    a host, a valid port and no user:password. Userinfo is refused, not stripped: the HTTP
    library would send it as Basic credentials in place of the Bearer key, and one who
    wrote it meant it to authenticate. The message never quotes the URL (a password)."""
    try:
        parsed = urlsplit(url)
    except ValueError:
        return "is not a URL"
    try:
        parsed.port  # noqa: B018 (read for its check)
    except ValueError:
        return "has no valid port (1-65535)"
    if parsed.username is not None or parsed.password is not None:
        return "must not hold a user or password"
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        return "must be an http:// or https:// URL with a host"
    return None
