"""The shape of the URLs a service is configured with (NATS, PostgreSQL, Qdrant, the
OTLP endpoint, the model servers), checked at start: a URL without its scheme, with a port
out of range or with spaces used to fail much later (a name looked up for ever, a bare
traceback, traces silently not sent). The messages never quote the URL: it may hold a
password."""

from urllib.parse import urlsplit

HTTP = ("http", "https")
POSTGRES = ("postgresql", "postgres")
# What nats-py connects to; a server named without a scheme (host:port) is nats://.
NATS = ("nats", "tls", "ws", "wss")


def url_problem(url: str, schemes: tuple[str, ...], *, host_required: bool = True) -> str | None:
    """Why `url` cannot be a URL of one of `schemes`, or None."""
    if not url.strip():
        return "is empty"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "must not contain spaces or control characters"
    try:
        parsed = urlsplit(url)
    except ValueError:
        return "is not a URL"
    if parsed.scheme.lower() not in schemes or not url.lower().startswith(parsed.scheme + "://"):
        return "must start with " + " or ".join(f"{scheme}://" for scheme in schemes)
    # libpq's and asyncpg's DSNs may name several hosts, each with its port, tried in turn
    # (`postgresql://u:p@db1:5432,db2:5433/mnemo`): each is checked as one.
    hosts = parsed.netloc.rpartition("@")[2]
    several = hosts.split(",") if parsed.scheme.lower() in POSTGRES else [hosts]
    for host in several:
        try:
            port = urlsplit(f"//{host}").port
        except ValueError:
            return "has no valid port (1-65535)"
        if port == 0:  # nothing listens on port 0
            return "has no valid port (1-65535)"
    if host_required and not parsed.hostname:
        return "names no host"
    return None


def check_url(name: str, url: str, schemes: tuple[str, ...], *, host_required: bool = True) -> None:
    """Raise ValueError naming the variable `name` when `url` is not one of `schemes`."""
    if problem := url_problem(url, schemes, host_required=host_required):
        raise ValueError(f"{name} {problem}")


def check_nats_urls(name: str, value: str) -> None:
    """MNEMO_NATS_URL: one server or several, comma-separated; each nats://, tls://, ws://,
    wss:// or a bare host:port (as nats-py takes it)."""
    servers = [part.strip() for part in value.split(",") if part.strip()]
    if not servers:
        raise ValueError(f"{name} names no server")
    for index, server in enumerate(servers, start=1):
        full = server if "://" in server else f"nats://{server}"
        if problem := url_problem(full, NATS):
            which = f" (server {index} of {len(servers)})" if len(servers) > 1 else ""
            raise ValueError(f"{name}{which} {problem}")
