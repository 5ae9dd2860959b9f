"""A service's log file across runs: each start is marked by a JSON line (every line of the
file reads as JSON), and the tail shown when a service stops is this run's, not the last
forty lines of earlier runs that bury why it stopped."""

import json

from mnemo.runtime.process import mark_start, tail


def test_the_tail_starts_at_this_runs_start_and_every_line_is_json(tmp_path):
    log = tmp_path / "synthesis.log"
    mark_start(log, "mnemo.synthesis")
    with log.open("a") as f:
        for n in range(60):
            f.write(json.dumps({"event": "earlier_run", "n": n}) + "\n")
    mark_start(log, "mnemo.synthesis")
    with log.open("a") as f:
        f.write(json.dumps({"event": "configuration error: MNEMO_QUERY_TIMEOUT"}) + "\n")
    shown = tail(log).splitlines()
    assert len(shown) == 2 and "earlier_run" not in tail(log)
    assert json.loads(shown[0])["process"] == "mnemo.synthesis"
    assert "MNEMO_QUERY_TIMEOUT" in shown[-1]
    assert all(json.loads(line) for line in log.read_text().splitlines())


def test_a_log_without_a_start_shows_its_last_lines(tmp_path):
    log = tmp_path / "nats.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))
    assert tail(log, 3).splitlines() == ["line 97", "line 98", "line 99"]
    assert "no log" in tail(tmp_path / "missing.log")


def test_a_log_from_before_the_json_marker_shows_its_last_runs_lines(tmp_path):
    log = tmp_path / "gateway.log"
    log.write_text("--- mnemo: starting mnemo.gateway at 2026-12-01 10:00:00\nold\n" * 30)
    log.write_text(log.read_text() + "--- mnemo: starting mnemo.gateway at 2026-12-07\nnew\n")
    assert tail(log).splitlines()[-1] == "new" and "old" not in tail(log)
