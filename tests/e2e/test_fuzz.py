"""The API contract matches the document: schemathesis, every check, on every operation of
/docs/openapi.json, against a stack of its own, finds nothing.

Bounded here (a few examples per operation, a fixed seed, derandomized, ~1.5 minutes);
`make fuzz` runs the same with a larger budget (MNEMO_FUZZ_* in tests/e2e/fuzz.py). A
failure shows schemathesis' report: each case with a curl line to reproduce it.
"""

import json

import pytest

from .conftest import new_stack, running
from .fuzz import Budget, run


@pytest.fixture(scope="module")
def fuzz_stack(nats_url, database_url, tmp_path_factory):
    """A stack of its own: the fuzzer's tenants, agents, keys and rate-limit counters
    (it signs up past the per-address limit) touch no other test."""
    own = new_stack("fuzz", "fuzz-stack", nats_url, database_url, tmp_path_factory)
    with running(own) as stack:
        yield stack


def test_schemathesis_finds_nothing(fuzz_stack, tmp_path, monkeypatch):
    budget = Budget.from_env(max_examples=5, max_time=90)
    known_log = tmp_path / "known.jsonl"
    monkeypatch.setenv("MNEMO_FUZZ_KNOWN", str(known_log))
    code, output = run(fuzz_stack.base_url, fuzz_stack.api_key, budget, tmp_path / "report")
    known = (
        [json.loads(line) for line in known_log.read_text().splitlines()]
        if (known_log.exists())
        else []
    )
    if known:
        # Not counted (tests/e2e/fuzz_hooks.py): 5xx of issue #12 classes 1-2, shown so
        # they stay in sight until their fix lands.
        print(f"\n{len(known)} known 5xx set aside (tests/e2e/fuzz_hooks.py):")
        for entry in known[:20]:
            print(f"  {entry['reason']}: {entry['operation']} -> {entry['status']}")
            print(f"    {entry['reproduce']}")
    assert code == 0, (
        f"schemathesis found failures (seed {budget.seed}; gateway log: "
        f"{fuzz_stack.home / 'logs' / 'gateway.log'}):\n{output[-20000:]}"
    )
