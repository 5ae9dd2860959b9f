"""`mnemo tail` finds the gateway `mnemo run` started, and says so when nothing answers
instead of retrying for ever."""

import pytest

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


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--key", "mk_abc\u00e9"], "printable ASCII"),
        (["--key", "mk_a b"], "printable ASCII"),
        (["--url", "not a url"], "http:// or https://"),
        (["--url", "ftp://x"], "http:// or https://"),
        (["--url", "http://[::1"], "not a URL"),
        (["--url", "http://127.0.0.1:99999"], "port"),
        (["--url", "http://user:pw@127.0.0.1:{port}"], "user or password"),
        (["--user", "u\udcff"], "--user"),
        (["--type", "memory.recorded", "--type", "\udcff"], "--type"),
    ],
)
def test_what_no_request_can_carry_is_one_line_and_exit_2(args, said, capsys):
    """Refused before any request: before these fixes, a non-ASCII key was a traceback,
    a URL of another scheme was retried for ever, and user:password in the URL replaced
    the key (401). Neither the key nor the password is ever printed."""
    port = free_port()  # nothing listens there: a request would say "no gateway answers"
    argv = [a.format(port=port) for a in args]
    if "--key" not in argv:
        argv += ["--key", "mk_secretkey"]
    if "--url" not in argv:
        argv += ["--url", f"http://127.0.0.1:{port}"]
    assert cli.main(["tail", *argv]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1 and err.startswith("mnemo tail: ")
    assert "secretkey" not in err and "pw" not in err and "abc" not in err
