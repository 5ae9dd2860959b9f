"""`mnemo tail` finds the gateway `mnemo run` started, and says so when nothing answers
instead of retrying for ever."""

from mnemo.runtime import cli
from mnemo.runtime.ports import free_port


def test_tail_follows_the_configured_port_and_stops_when_nothing_answers(monkeypatch, capsys):
    port = free_port()  # nothing listens there
    monkeypatch.setenv("MNEMO_GATEWAY_PORT", str(port))
    assert cli.main(["tail", "--key", "mk_test"]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "no gateway answers" in err


def test_an_explicit_url_wins(monkeypatch, capsys):
    monkeypatch.setenv("MNEMO_GATEWAY_PORT", "1")
    port = free_port()
    assert cli.main(["tail", "--key", "mk_test", "--url", f"http://127.0.0.1:{port}"]) == 2
    assert f"127.0.0.1:{port}" in capsys.readouterr().err
