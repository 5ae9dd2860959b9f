"""A message no consumer can process never vanishes: it is a dead letter that an operator
sees (`mnemo admin dead-letters`), counts (also in /v1/health), replays or drops, and the
audit shows it."""

import asyncio
import os
import subprocess
import sys
import uuid

import nats

from mnemo.contracts import Headers, Topology

from .waiting import eventually


def admin(stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mnemo.runtime", "admin", "dead-letters", *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def publish_raw(stack, payload: bytes, correlation: str) -> None:
    """A command the gateway would never send (it bypasses it): ingest cannot decode it."""

    async def send() -> None:
        nc = await nats.connect(stack.env["MNEMO_NATS_URL"])
        try:
            topology = Topology(root=stack.env["MNEMO_BUS_ROOT"])
            await nc.jetstream().publish(
                topology.cmd_subject("ingest.memory", "e2e"),
                payload,
                headers={
                    Headers.MSG_ID: str(uuid.uuid4()),
                    Headers.TENANT: "e2e",
                    Headers.CORRELATION: correlation,
                    Headers.CAUSATION: correlation,
                    Headers.TYPE: "ingest.memory",
                    Headers.SERVICE: "tests",
                },
            )
        finally:
            await nc.close()

    asyncio.run(send())


def mine(stack, correlation: str) -> list[str]:
    listed = admin(stack, "list", "--consumer", "ingest-memory")
    assert listed.returncode == 0, listed.stderr
    return [line for line in listed.stdout.splitlines() if f"correlation={correlation}" in line]


def test_an_unprocessable_command_is_listed_counted_audited_and_replayable(stack, api):
    correlation = "dl-" + uuid.uuid4().hex[:10]
    secret_word = "zanzibar" + uuid.uuid4().hex[:6]
    publish_raw(
        stack, b'{"not": "a command", "content": "' + secret_word.encode() + b'"}', correlation
    )

    [line] = eventually(lambda: mine(stack, correlation), timeout=90)
    sequence = line.split("\t")[0]
    assert "ingest-memory" in line and "tenant=e2e" in line and "reason=" in line
    assert secret_word not in line  # the listing never shows content

    counted = admin(stack, "count")
    assert counted.returncode == 0 and "ingest-memory\t" in counted.stdout
    health = api.get("/v1/health").json()["deadLetters"]
    assert health["total"] >= 1 and health["byConsumer"]["ingest-memory"] >= 1

    def audited() -> bool:
        chain = api.get("/v1/audit/events", params={"correlation_id": correlation}).json()
        return any(e["type"] == "message.dead_lettered" for e in chain["events"])

    eventually(audited, timeout=60)

    # Replayed, it still cannot be decoded: it comes back as a new dead letter.
    replayed = admin(stack, "replay", "--seq", sequence)
    assert replayed.returncode == 0, replayed.stderr
    [again] = eventually(
        lambda: [x for x in mine(stack, correlation) if x.split("\t")[0] != sequence],
        timeout=90,
    )
    dropped = admin(stack, "drop", "--seq", again.split("\t")[0])
    assert dropped.returncode == 0, dropped.stderr
    assert mine(stack, correlation) == []


def test_replay_and_drop_need_to_be_told_which(stack):
    assert admin(stack, "replay").returncode == 2
    assert admin(stack, "drop").returncode == 2


def test_a_consumer_that_is_not_there_is_said_so_and_a_closed_pipe_is_not_the_bus(stack):
    """`--consumer ingest-commands` (the name the help gave) listed "0 dead letter(s)" and
    replayed or dropped nothing, rc 0: an operator was told there was nothing to do. And
    `list | head -1` said NATS could not be reached (a BrokenPipeError)."""
    for action in ("list", "count", "drop"):
        wrong = admin(stack, action, "--consumer", "ingest-commands", "--all")
        assert wrong.returncode == 2 and "ingest-memory" in wrong.stderr, wrong.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "mnemo.runtime", "admin", "dead-letters", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "ingest-memory" in help_text and "ingest-commands" not in help_text
    publish_raw(stack, b'{"not": "a command"}', "pipe-" + uuid.uuid4().hex[:6])
    eventually(lambda: admin(stack, "list").stdout, timeout=90)
    # A reader that has gone before the first line (as `… | head -1` goes after it).
    reader, writer = os.pipe()
    os.close(reader)
    try:
        piped = subprocess.run(
            [sys.executable, "-m", "mnemo.runtime", "admin", "dead-letters", "list"],
            env=stack.env,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(writer)
    assert piped.returncode == 0, piped.stderr
    assert "reach" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr


def test_no_listing_or_audit_quotes_the_value_a_consumer_failed_on(stack, api):
    """A message that decodes for one consumer and fails in another with an exception
    quoting what it carried (the audit reading a command's `issued_at`: `Invalid
    isoformat string: '…'`): its dead letter's reason, listed and audited, names the
    failure and where it was raised, never the value."""
    correlation = "dlv-" + uuid.uuid4().hex[:10]
    said = "therapist" + uuid.uuid4().hex[:8]
    payload = f'{{"type": "ingest.memory", "issued_at": "I told my {said}"}}'
    publish_raw(stack, payload.encode(), correlation)

    def audit_letter() -> list[str]:
        listed = admin(stack, "list", "--consumer", "audit-commands")
        assert listed.returncode == 0, listed.stderr
        return [x for x in listed.stdout.splitlines() if f"correlation={correlation}" in x]

    [line] = eventually(audit_letter, timeout=120)
    assert "reason=failed" in line and "ValueError" in line
    assert said not in line

    def reasons() -> list[str]:
        chain = api.get("/v1/audit/events", params={"correlation_id": correlation}).json()
        return [
            e["data"]["reason"] for e in chain["events"] if e["type"] == "message.dead_lettered"
        ]

    audited = eventually(lambda: len(reasons()) >= 2 and reasons(), timeout=60)
    assert [r for r in audited if said in r] == []
