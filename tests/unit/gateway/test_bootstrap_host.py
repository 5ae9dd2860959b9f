"""A listen address whose name does not resolve is the setting's fault, for good (one line
naming it, exit 78, which `mnemo run` does not restart); a name server that did not answer
(EAI_AGAIN) is not: the start goes on to fail as any other and is made again."""

import socket

import pytest

from mnemo.gateway import bootstrap
from mnemo.settings import CONFIG_ERROR_EXIT
from mnemo.telemetry import live


@pytest.fixture
def gateway(monkeypatch):
    started = []
    monkeypatch.setenv("MNEMO_NATS_URL", "nats://127.0.0.1:4222")
    monkeypatch.setenv("MNEMO_GATEWAY_HOST", "gateway.example")
    monkeypatch.setattr(bootstrap, "configure", lambda *_a, **_k: None)
    monkeypatch.setattr(bootstrap, "create_asgi", lambda _settings: object())
    monkeypatch.setattr(bootstrap.Server, "run", lambda self: started.append(self))
    return started


def _resolving(monkeypatch, errno: int) -> None:
    def getaddrinfo(*_args, **_kw):
        raise socket.gaierror(errno, "name resolution")

    monkeypatch.setattr(bootstrap.socket, "getaddrinfo", getaddrinfo)


def test_a_gateway_host_that_does_not_resolve_is_a_setting_refused(gateway, monkeypatch, capsys):
    _resolving(monkeypatch, socket.EAI_NONAME)
    with pytest.raises(SystemExit) as stopped:
        bootstrap.main()
    assert stopped.value.code == CONFIG_ERROR_EXIT and not gateway
    assert "MNEMO_GATEWAY_HOST" in capsys.readouterr().err


def test_a_name_server_that_did_not_answer_is_no_refused_setting(gateway, monkeypatch):
    _resolving(monkeypatch, socket.EAI_AGAIN)
    bootstrap.main()  # no exit 78: uvicorn is left to try (and fail, and be started again)
    assert len(gateway) == 1


@pytest.mark.parametrize(
    ("errno", "refused"), [(socket.EAI_NONAME, True), (socket.EAI_AGAIN, False)]
)
def test_a_metrics_host_whose_name_server_did_not_answer_is_no_refused_setting(
    errno, refused, monkeypatch
):
    def start_http_server(*_args, **_kw):
        raise socket.gaierror(errno, "name resolution")

    monkeypatch.setattr(live, "start_http_server", start_http_server)
    monkeypatch.setattr(live, "LiveGauges", lambda _loop: None)
    monkeypatch.setattr(live.asyncio, "get_running_loop", lambda: None)
    monkeypatch.setattr(live, "disable_created_metrics", lambda: None)
    with pytest.raises(Exception) as raised:  # which one is the question
        live.serve_metrics("metrics.example", 9100)
    expected = live.MetricsPortUnavailable if refused else socket.gaierror
    assert type(raised.value) is expected
    if refused:
        assert "MNEMO_METRICS_HOST" in str(raised.value)
