"""`mnemo admin` says where the bus it cannot reach is without the password in its URL.

A NATS URL may carry credentials (`nats://user:password@host:4222`); an unreachable bus,
or one refusing them, is reported as its host and port and the failure's type, never the
URL itself nor the client's traceback.
"""

import socket
import threading
from collections.abc import Iterator

import pytest

from mnemo.runtime.cli import main
from mnemo.runtime.ports import free_port

PASSWORD = "NatsPw" + "Rt5Yu8Io3Pa"


@pytest.fixture
def refusing_bus() -> Iterator[int]:
    """A NATS server that asks for credentials and refuses whatever it is sent."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(
                    b'INFO {"server_id":"x","version":"2.10.0","proto":1,"headers":true,'
                    b'"auth_required":true,"max_payload":1048576}\r\n'
                )
                try:
                    conn.recv(4096)
                    conn.sendall(b"-ERR 'Authorization Violation'\r\n")
                    conn.recv(4096)
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    yield port
    server.close()


@pytest.mark.parametrize("command", [["create-tenant", "--name", "t"], ["dead-letters", "count"]])
@pytest.mark.parametrize("bus", ["away", "refusing"])
def test_a_bus_not_reached_is_named_without_its_password(
    command, bus, refusing_bus, monkeypatch, capsys
):
    port = free_port() if bus == "away" else refusing_bus
    monkeypatch.setenv("MNEMO_NATS_URL", f"nats://admin:{PASSWORD}@127.0.0.1:{port}")
    assert main(["admin", *command]) != 0
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err
    assert f"127.0.0.1:{port}" in out.err
    assert "Traceback" not in out.err
    if bus == "refusing":
        # Said as a refusal of the credentials, not as a bus that cannot be reached.
        assert "refused MNEMO_NATS_URL: authorization violation" in out.err
        assert "cannot reach" not in out.err
    assert out.err.count("\n") == 1


def test_an_argument_the_service_refuses_exits_2(monkeypatch, capsys):
    from mnemo.bus import QueryFailed
    from mnemo.contracts import QueryError
    from mnemo.runtime import admin

    async def refused(*_args: object) -> None:
        raise QueryFailed(QueryError(code="invalid", message="name must not be empty"))

    monkeypatch.setattr(admin, "reachable_bus", lambda _settings: "nats://127.0.0.1:4222")
    monkeypatch.setattr(admin, "_create", refused)
    assert main(["admin", "create-tenant", "--name", " "]) == 2
    assert capsys.readouterr().err == "mnemo admin: name must not be empty\n"
