"""`mnemo run` checks the servers' URLs it is given before it starts anything: a DSN
without its scheme reached the services, which each stopped on a bare traceback after
NATS and PostgreSQL had been started for nothing."""

import pytest

from mnemo.runtime import cli


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MNEMO_DATABASE_URL", "mnemo:TopSecret1@db:5432/mnemo"),
        ("MNEMO_DATABASE_URL", "postgresql://mnemo:TopSecret1@db:654321/mnemo"),
        ("MNEMO_NATS_URL", "http://nats:TopSecret1@nats:4222"),
        ("MNEMO_LLM_URL", "gpu-box:8000/v1"),
    ],
)
def test_a_bad_server_url_stops_mnemo_run_with_one_line(variable, value, monkeypatch, capsys):
    monkeypatch.setenv(variable, value)
    started = []
    monkeypatch.setattr(cli.Supervisor, "run", lambda self: started.append(self) or 0)
    assert cli.main(["run"]) == 2
    assert not started
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and variable in err
    assert "TopSecret1" not in err


@pytest.mark.parametrize("command", ["run", "servers"])
def test_a_home_that_cannot_hold_data_stops_with_one_line(command, tmp_path, monkeypatch, capsys):
    # A file as MNEMO_HOME ended `mnemo run` on a NotADirectoryError traceback.
    home = tmp_path / "a-file"
    home.write_text("")
    monkeypatch.setenv("MNEMO_HOME", str(home))
    started = []
    monkeypatch.setattr(cli.Supervisor, "run", lambda self: started.append(self) or 0)
    monkeypatch.setattr(cli, "serve_servers", lambda settings: started.append(settings) or 0)
    assert cli.main([command]) == 2
    assert not started
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MNEMO_HOME" in err and "Not a directory" in err


def test_a_dsn_of_several_hosts_is_taken_by_mnemo_run():
    # asyncpg, as libpq, tries each host in turn (a primary and its standby).
    from mnemo.runtime.settings import load_run_settings

    dsn = "postgresql://mnemo:pw@db1:5432,db2:5433/mnemo"
    assert load_run_settings({"MNEMO_DATABASE_URL": dsn}).database_url == dsn
