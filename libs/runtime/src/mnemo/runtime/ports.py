"""TCP ports for the servers and services a developer runs on one machine."""

import random
import socket
from pathlib import Path

# Where free ports are drawn from when the kernel's ephemeral range cannot be read.
_EPHEMERAL = (32768, 60999)
_LOWEST = 10000
_ATTEMPTS = 200

# Every port handed out by this process: a port is picked now and bound later, by another
# process, so nothing here may hand it out again meanwhile.
_given: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now, for a server started next.

    Drawn below the kernel's ephemeral range: an outgoing connection's own port comes from
    that range, so one opened meanwhile (to NATS, to PostgreSQL: a busy stack opens many)
    cannot take the port before the server binds it, as a port the OS picked could be (a
    cluster test's replica failed with "address in use" so). Never the same port twice from
    one process."""
    low = _ephemeral_range()[0]
    for _ in range(_ATTEMPTS):
        port = random.randint(_LOWEST, low - 1)
        if port not in _given and _bindable(host, port):
            _given.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))  # a crowded machine: whatever the OS gives
        port = int(sock.getsockname()[1])
    _given.add(port)
    return port


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return _EPHEMERAL


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
