"""`mnemo admin create-tenant`: make a tenant and print its first master key.

It asks the ingest service over NATS (the bus of MNEMO_NATS_URL, else of the `mnemo run`
using MNEMO_HOME), so the services must be running. The key is printed once and kept
nowhere: the log holds only its HMAC-SHA256 digest.
"""

import asyncio
import os
import sys
from urllib.parse import urlsplit

import nats

from mnemo.bus import QueryFailed, ask
from mnemo.bus.connection import nats_refusal
from mnemo.contracts import CreateTenant, NewTenant, Topology
from mnemo.runtime.ports import port_open
from mnemo.runtime.settings import RunSettings


def nats_url_of(settings: RunSettings) -> str | None:
    if settings.nats_url:
        return settings.nats_url
    recorded = settings.home_dir / "run" / "nats_url"
    if recorded.exists():
        return recorded.read_text().strip() or None
    return None


def bus_address(url: str) -> str:
    """Where the bus of `url` is, for a message: its host and port, never the user and
    password a NATS URL may hold (`nats://user:password@host:4222`), whatever else the
    URL carries (a token, a list of servers)."""
    try:
        where = urlsplit(url)
        return f"{where.hostname or '127.0.0.1'}:{where.port or 4222}"
    except ValueError:
        return "the configured URL (MNEMO_NATS_URL)"


def bus_failure(url: str, exc: BaseException) -> str:
    """The one line for a bus that failed `mnemo admin`: refused credentials said as such
    (it read "cannot reach NATS ...: Error", as for a server that is away), never the URL."""
    if isinstance(exc, Exception) and (refusal := nats_refusal(exc)):
        return f"mnemo admin: NATS at {bus_address(url)} refused MNEMO_NATS_URL: {refusal}"
    return f"mnemo admin: cannot reach NATS at {bus_address(url)}: {type(exc).__name__}"


def reachable_bus(settings: RunSettings) -> str | None:
    """The bus URL to talk to, or None after saying why there is none (at once: a bus that
    is not there is not waited for)."""
    url = nats_url_of(settings)
    if url is None:
        print(
            "mnemo admin: no bus to talk to; start Mnemo (make run) or set MNEMO_NATS_URL",
            file=sys.stderr,
        )
        return None
    where = urlsplit(url)
    if not port_open(where.hostname or "127.0.0.1", where.port or 4222, timeout=2.0):
        print(
            f"mnemo admin: NATS is not reachable at {bus_address(url)}; is Mnemo running"
            " (make run)?",
            file=sys.stderr,
        )
        return None
    return url


def create_tenant(settings: RunSettings, name: str, email: str | None) -> int:
    url = reachable_bus(settings)
    if url is None:
        return 2
    try:
        made = asyncio.run(_create(url, settings.bus_root, name, email))
    except QueryFailed as exc:
        print(f"mnemo admin: {exc.error.message}", file=sys.stderr)
        # An argument the service refused (an empty --name) is a usage error, as argparse's.
        return 2 if exc.error.code == "invalid" else 1
    except (OSError, nats.errors.Error) as exc:
        print(bus_failure(url, exc), file=sys.stderr)
        return 1
    print(f"Tenant:     {made.tenant_id} ({made.name})")
    print(f"Master key: {made.master_key.key}")
    print("Keep the key now: it is shown once and cannot be recovered.")
    return 0


async def _create(url: str, root: str, name: str, email: str | None) -> NewTenant:
    nc = await nats.connect(url, connect_timeout=5, allow_reconnect=False, error_cb=quiet)
    try:
        command = CreateTenant(name=name, email=email, actor=f"admin:{_user()}")
        return await ask(
            nc, Topology(root=root).svc_subject("ingest", "create_tenant"), command, NewTenant
        )
    finally:
        await nc.close()


def _user() -> str:
    try:
        return os.getlogin()
    except OSError:
        return os.environ.get("USER", "cli")


async def quiet(_exc: Exception) -> None:
    """The caller reports a failed connection once, in words; the client need not."""
