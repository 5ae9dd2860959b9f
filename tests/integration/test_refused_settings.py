"""A server that refuses what a service was configured with, for good, stops the service
at start with one line naming the setting and exit 78 (which `mnemo run` does not
restart), never the password: a wrong NATS password was tried twice a second for ever, each
try a `nats_error` line without a word of why; a PostgreSQL that refused the user or had no
such database ended the service on a traceback without its message (exit 1, started again
into the same refusal)."""

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from mnemo.runtime.nats_server import nats_server_binary
from mnemo.runtime.ports import free_port
from mnemo.settings import CONFIG_ERROR_EXIT
from tests.conftest import with_database

SECRET = "TopSecret" + uuid.uuid4().hex[:8]


def _run(service: str, env: dict[str, str], tmp_path: Path) -> tuple[int, str]:
    log = tmp_path / f"{service}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"mnemo.{service}"],
            env={"PATH": "/usr/bin:/bin", "MNEMO_EMBEDDER": "hashing", **env},
            stdout=out,
            stderr=out,
        )
        try:
            # Generous: importing a service takes seconds on a loaded 2-core machine; a
            # refused one exits as soon as it is refused.
            code = proc.wait(180)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"{service} still running on a refused setting:\n{log.read_text()[-2000:]}")
    return code, log.read_text()


def _refused_in_one_line(text: str, setting: str) -> str:
    assert SECRET not in text
    lines = [line for line in text.splitlines() if line.startswith("configuration error:")]
    assert len(lines) == 1, text[-2000:]
    assert setting in lines[0]
    return lines[0]


@pytest.fixture
def nats_with_password(tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(
        f"listen: 127.0.0.1:{port}\n"
        f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n'
        "authorization { user: mnemo, password: RightPassword1 }\n"
    )
    proc = subprocess.Popen(
        [str(nats_server_binary()), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("nats-server with a password never listened")
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("service", ["audit", "gateway"])
def test_a_wrong_nats_password_stops_the_service_naming_the_setting(
    service, nats_with_password, database_url, tmp_path
):
    host, port = nats_with_password
    env = {
        "MNEMO_NATS_URL": f"nats://mnemo:{SECRET}@{host}:{port}",
        "MNEMO_DATABASE_URL": database_url,
        "MNEMO_GATEWAY_PORT": str(free_port()),
        "MNEMO_BUS_ROOT": "refused",
    }
    code, text = _run(service, env, tmp_path)
    assert code == CONFIG_ERROR_EXIT, text[-2000:]
    line = _refused_in_one_line(text, "MNEMO_NATS_URL")
    assert "authorization violation" in line


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("database", "does not exist"),  # SQLSTATE 3D000
        ("user", "nosuchrole"),  # SQLSTATE 28000: no such role
    ],
)
def test_a_database_that_refuses_the_url_stops_the_service_naming_it(
    change, said, nats_url, database_url, tmp_path
):
    if change == "database":
        dsn = with_database(database_url, "nosuch_" + uuid.uuid4().hex[:8])
    else:
        parts = urlsplit(database_url)
        netloc = f"nosuchrole:{SECRET}@{parts.hostname}:{parts.port}"
        dsn = urlunsplit(parts._replace(netloc=netloc))
    env = {"MNEMO_NATS_URL": nats_url, "MNEMO_DATABASE_URL": dsn, "MNEMO_BUS_ROOT": "refused"}
    code, text = _run("audit", env, tmp_path)
    assert code == CONFIG_ERROR_EXIT, text[-2000:]
    line = _refused_in_one_line(text, "MNEMO_DATABASE_URL")
    assert "refused by PostgreSQL" in line and said in line


def test_a_gateway_host_that_is_no_address_stops_the_gateway_naming_it(nats_url, tmp_path):
    # uvicorn said only "[Errno -2] Name or service not known" (exit 3), once NATS answered.
    env = {
        "MNEMO_NATS_URL": nats_url,
        "MNEMO_GATEWAY_HOST": "nosuch.invalid",
        "MNEMO_GATEWAY_PORT": str(free_port()),
    }
    code, text = _run("gateway", env, tmp_path)
    assert code == CONFIG_ERROR_EXIT, text[-2000:]
    _refused_in_one_line(text, "MNEMO_GATEWAY_HOST")


@pytest.mark.parametrize(
    ("setting", "host"),
    [("MNEMO_METRICS_PORT", "127.0.0.1"), ("MNEMO_METRICS_HOST", "nosuch.invalid")],
)
def test_a_metrics_endpoint_that_cannot_listen_stops_the_gateway_naming_it(
    setting, host, nats_url, tmp_path
):
    # The other services said so and exited 78; the gateway exited 3 on the first line of
    # a traceback ("Exception Group Traceback"), and `mnemo run` started it again.
    taken = socket.create_server(("127.0.0.1", 0))
    try:
        env = {
            "MNEMO_NATS_URL": nats_url,
            "MNEMO_GATEWAY_PORT": str(free_port()),
            "MNEMO_METRICS_PORT": str(taken.getsockname()[1]),
            "MNEMO_METRICS_HOST": host,
        }
        code, text = _run("gateway", env, tmp_path)
    finally:
        taken.close()
    assert code == CONFIG_ERROR_EXIT, text[-2000:]
    _refused_in_one_line(text, setting)
