"""A retried call is logged without what the failure said.

tenacity's own `before_sleep_log` writes its line already filled with the exception's
message (an f-string, not a template with arguments), and an embedding or model server's
5xx answer may echo the input it was sent: the memory. The services log retries with
`mnemo.telemetry.log_retry` instead, which passes the exception as a value.
"""

import ast
import json
import logging
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import structlog

from mnemo.embeddings import OpenAICompatibleEmbedder
from mnemo.telemetry import configure_logging

ROOT = Path(__file__).resolve().parents[3]
WORD = "quokkaattic7"
KEY = "sk-proj-" + "Zx8Kq2Lm4Np6Rs8Tv0Wx2Yz4Ab6Cd8Ef"


class _Echoing(BaseHTTPRequestHandler):
    """An embeddings server whose first answer is a 500 quoting the input it was sent."""

    failed = False

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not _Echoing.failed:
            _Echoing.failed = True
            self._answer(500, {"error": f"cannot embed {body['input']} ({KEY})"})
            return
        data = [{"index": i, "embedding": [1.0, 2.0]} for i, _ in enumerate(body["input"])]
        self._answer(200, {"data": data})

    def _answer(self, status: int, payload: object) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Echoing.failed = False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echoing)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def configured():
    saved = structlog.get_config()
    yield configure_logging
    structlog.configure(**saved)
    logging.getLogger().handlers.clear()
    sys.excepthook = sys.__excepthook__
    sys.unraisablehook = sys.__unraisablehook__


def test_a_retry_after_a_server_echoing_the_input_logs_no_content(server, configured, capsys):
    configured("test")
    embedder = OpenAICompatibleEmbedder(server, "m", backoff_seconds=0.01)
    assert len(embedder.embed([f"the {WORD} lives in the attic"])) == 1
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert lines, "the retry is logged"
    assert WORD not in err and KEY not in err
    [retry] = lines
    assert retry["event"] == "Retrying embedding request in %s seconds after attempt %s failed"
    assert retry["exception"]["type"].endswith("_Transient") and retry["args"] == [0.01, 1]


def test_no_service_logs_its_retries_with_tenacity_before_sleep_log():
    sources = sorted(ROOT.glob("libs/*/src/**/*.py")) + sorted(ROOT.glob("services/*/src/**/*.py"))
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sources
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Name | ast.alias)
        and (node.id if isinstance(node, ast.Name) else node.name) == "before_sleep_log"
    ]
    assert offenders == []
