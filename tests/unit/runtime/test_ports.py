"""Free ports for servers started next: outside the range the kernel takes outgoing
connections' ports from, and never handed out twice by one process."""

import socket

from mnemo.runtime.ports import _ephemeral_range, free_port


def test_free_ports_are_below_the_ephemeral_range_bindable_and_never_repeated():
    """An outgoing connection's own port comes from the ephemeral range: a port picked
    there for a service not yet started could be taken meanwhile ("address in use" broke
    a cluster test's replica)."""
    low, high = _ephemeral_range()
    assert 1024 < low < high
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert all(port < low for port in ports)
    for port in ports[:20]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
