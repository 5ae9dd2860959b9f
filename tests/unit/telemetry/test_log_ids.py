"""Every log line carries its service, correlation id and causation id: inside a message,
a batch, outside any message (the process's own lifecycle), from a thread that inherited
nothing, and from a library logging through stdlib."""

import json
import logging
import sys
import threading

import pytest
import structlog

from mnemo.telemetry import configure_logging, get_logger
from mnemo.telemetry.context import MessageContext, batch_context, message_context


@pytest.fixture
def lines(capsys):
    """Configures logging when called (once pytest's capture of the test's stderr is in
    place), then reads the lines written; restores it all afterwards."""
    saved = structlog.get_config()

    def read(configure: bool = False) -> list[dict]:
        if configure:
            configure_logging("svc")
            return []
        err = capsys.readouterr().err
        return [json.loads(line) for line in err.splitlines() if line.strip()]

    yield read
    structlog.configure(**saved)
    logging.getLogger().handlers.clear()
    structlog.contextvars.clear_contextvars()
    sys.excepthook = sys.__excepthook__
    sys.unraisablehook = sys.__unraisablehook__
    threading.excepthook = threading.__excepthook__


def _ctx(correlation: str, message: str, cause: str | None) -> MessageContext:
    return MessageContext(correlation_id=correlation, message_id=message, causation_id=cause)


def test_every_line_carries_service_correlation_and_causation(lines):
    lines(configure=True)
    log = get_logger("t")
    log.info("starting")
    with message_context(_ctx("c1", "m1", "cause1")):
        log.info("handled")
    with batch_context([_ctx("c1", "m1", "x"), _ctx("c2", "m2", "y")]):
        log.info("batch")
    with batch_context([_ctx("c3", "m3", "z"), _ctx("c3", "m4", "z")]):
        log.info("one_correlation_batch")
    thread = threading.Thread(target=lambda: log.warning("from_a_bare_thread"))
    thread.start()
    thread.join()
    logging.getLogger("somelib").warning("library says %s", "x")
    got = {line["event"]: line for line in lines()}
    assert set(got) >= {"starting", "handled", "batch", "one_correlation_batch"}
    assert len(got) == 6, got
    for line in got.values():
        assert line["service"] == "svc"
        assert "correlation_id" in line and "causation_id" in line, line
    # Outside a message: the process's own lifecycle id, the same on each such line.
    lifecycle = got["starting"]["correlation_id"]
    assert lifecycle.startswith("svc-") and got["starting"]["causation_id"] is None
    assert got["from_a_bare_thread"]["correlation_id"] == lifecycle
    assert (got["handled"]["correlation_id"], got["handled"]["causation_id"]) == ("c1", "cause1")
    # A batch of several correlations lists them and claims none of its own.
    assert got["batch"]["correlation_id"] is None
    assert got["batch"]["correlation_ids"] == ["c1", "c2"]
    assert got["one_correlation_batch"]["correlation_id"] == "c3"
