"""A log line that cannot be written (the disk under MNEMO_HOME/logs full) is dropped and
counted, never raised into the code that logged it: on a full disk the gateway answered a
bare `500 Internal Server Error` to requests whose log line failed to write."""

import errno
import io
import json
import sys

import structlog

from mnemo.telemetry import get_logger
from mnemo.telemetry.logging import configure_logging


class _Disk(io.StringIO):
    full = False

    def write(self, text: str) -> int:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(text)


def test_a_full_disk_drops_log_lines_and_counts_them(monkeypatch):
    disk = _Disk()
    monkeypatch.setattr(sys, "stderr", disk)
    try:
        configure_logging("gateway")
        log = get_logger("test")
        disk.full = True
        for _ in range(3):
            log.info("http_request", status=202)
            log.error("something_failed")
        disk.full = False
        log.info("written_again")
        lines = [json.loads(line) for line in disk.getvalue().splitlines()]
        assert [line["event"] for line in lines] == ["log_lines_dropped", "written_again"]
        assert lines[0]["count"] == 6
        # Written past the processors, it still carries what every line carries.
        assert lines[0]["service"] == "gateway" and lines[0]["causation_id"] is None
        assert lines[0]["correlation_id"] == lines[1]["correlation_id"]
        assert lines[0]["timestamp"].endswith("Z")
    finally:
        structlog.reset_defaults()
