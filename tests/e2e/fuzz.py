"""Schemathesis over the gateway's OpenAPI document, as `make fuzz` and tests/e2e/test_fuzz.py
run it: every operation, every check, a fixed seed, generation derandomized, a time budget.

The budget comes from MNEMO_FUZZ_MAX_EXAMPLES (per operation and phase), MNEMO_FUZZ_MAX_TIME
(seconds for the whole run: fuzzing and stateful testing go on until it is spent) and
MNEMO_FUZZ_SEED. What it leaves out on purpose is in fuzz_hooks.py, with the reason.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Budget:
    max_examples: int
    max_time: int
    seed: int

    @classmethod
    def from_env(cls, *, max_examples: int, max_time: int) -> "Budget":
        return cls(
            max_examples=int(os.environ.get("MNEMO_FUZZ_MAX_EXAMPLES", max_examples)),
            max_time=int(os.environ.get("MNEMO_FUZZ_MAX_TIME", max_time)),
            seed=int(os.environ.get("MNEMO_FUZZ_SEED", 20261203)),
        )


def command(base_url: str, budget: Budget, report_dir: Path) -> list[str]:
    return [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{base_url}/docs/openapi.json",
        "--checks",
        "all",
        # One worker: hypothesis describes strategies with ast.parse, which CPython 3.11
        # does not survive from two threads at once ("AST constructor recursion depth").
        "--workers",
        "1",
        "--seed",
        str(budget.seed),
        "--generation-deterministic",
        "--max-examples",
        str(budget.max_examples),
        "--max-time",
        str(budget.max_time),
        # NUL characters are issue #12 classes 1-2 (see fuzz_hooks.KNOWN), not this test's.
        # The compatible surfaces are described by their envelopes only (no bodies to
        # generate from: mnemo.gateway.openapi_compat), and so is MCP's JSON-RPC; their
        # own tests cover them (tests/e2e/test_compat_*.py, test_mcp.py).
        "--exclude-tag-regex",
        "^(compat: |MCP$)",
        "--generation-allow-x00",
        "false",
        "--request-timeout",
        "20",
        # The response-time check, on a shared 2-core machine: generous, not a benchmark.
        "--max-response-time",
        "30",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
    ]


def run(base_url: str, api_key: str, budget: Budget, report_dir: Path) -> tuple[int, str]:
    """Schemathesis' exit code and everything it printed."""
    report_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.fuzz_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [*command(base_url, budget, report_dir), "--header", f"Authorization: Bearer {api_key}"],
        cwd=report_dir,  # schemathesis keeps a crash cache in its working folder
        env=env,
        capture_output=True,
        text=True,
        timeout=budget.max_time + 300,
    )
    return result.returncode, result.stdout + result.stderr
