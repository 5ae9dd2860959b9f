"""The short form of `make chaos` (bench/chaos.py): PostgreSQL killed under a steady load;
every acknowledged item present exactly once, searchable, synthesized and audited, and no
client saw a 500. The whole table (every service, NATS and PostgreSQL killed and frozen for
5 s, 30 s and 3 min) is `make chaos`."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_postgres_killed_under_load_loses_nothing():
    result = subprocess.run(
        [sys.executable, "chaos.py", "--only", "postgres kill 5s", "--rate", "30", "--short"],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [row] = [line for line in result.stdout.splitlines() if line.startswith("postgres kill 5s")]
    cells = [cell.strip() for cell in row.split("|")]
    _, acked, lost, duplicated, unsynthesized, unsearchable, unaudited, errors, _ = cells
    assert int(acked) > 0 and lost == "0" and duplicated == "0", result.stdout
    assert unsynthesized.startswith("0/") and unsearchable.startswith("0/"), result.stdout
    assert unaudited.startswith("0/") and "500" not in errors, result.stdout
