"""Whatever is logged, and however it fails, a log line holds no key, secret or content.

The real logging pipeline (`configure_logging`) writes to stderr; each test reads back the
JSON lines it wrote.
"""

import asyncio
import gc
import json
import logging
import subprocess
import sys
import threading

import msgspec
import pytest
import structlog

from mnemo.telemetry import configure_logging, get_logger

KEY = "mk_dev_" + "5f2a9c1e7b3d4a6f8e0c2b4d6f8a0c2e"
KEY_SECRET = "e2e-key-secret-0a1b2c3d4e5f6789"
WORD = "quokkaattic7"


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    err = capsys.readouterr().err
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def _handle(authorization: str, body: bytes, key_secret: str) -> None:
    """A request handler whose frame holds a key, a secret and content when it fails."""
    payload = json.loads(body)
    raise ValueError(f"cannot store {payload['content']!r} for {authorization}")


@pytest.fixture
def configured():
    """Restores structlog, stdlib logging and the except hooks after the test; each test
    configures logging itself, once pytest's capture of the test's own stderr is in place
    (structlog would otherwise keep writing to that capture once pytest has closed it)."""
    saved = structlog.get_config()
    yield configure_logging
    structlog.configure(**saved)
    logging.getLogger().handlers.clear()
    sys.excepthook = sys.__excepthook__
    sys.unraisablehook = sys.__unraisablehook__
    threading.excepthook = threading.__excepthook__


def _assert_clean(text: str) -> None:
    for forbidden in (KEY, KEY_SECRET, WORD, "Bearer"):
        assert forbidden not in text


def test_an_exception_is_logged_without_its_message_or_locals(configured, capsys):
    configured("test")
    body = json.dumps({"content": f"the {WORD} lives in the attic"}).encode()
    try:
        _handle(f"Bearer {KEY}", body, KEY_SECRET)
    except ValueError:
        get_logger().exception("unhandled_error", path="/v1/ingest")
    [line] = _lines(capsys)
    _assert_clean(json.dumps(line))
    assert line["event"] == "unhandled_error" and line["level"] == "error"
    assert line["exception"]["type"] == "ValueError"
    assert line["exception"]["frames"][-1]["function"] == "_handle"


def test_an_exception_passed_as_a_value_is_described_the_same_way(configured, capsys):
    configured("test")
    try:
        msgspec.json.decode(b'{"userId": "' + WORD.encode() + b'"}', type=dict[str, int])
    except msgspec.ValidationError as exc:
        cause = exc
    try:
        raise RuntimeError(f"wrapped {KEY}") from cause
    except RuntimeError as exc:
        get_logger().warning("consumer_fetch_failed", error=exc)
    [line] = _lines(capsys)
    _assert_clean(json.dumps(line))
    assert line["error"]["type"] == "RuntimeError"
    assert line["error"]["cause"]["type"] == "msgspec.ValidationError"


def test_codes_of_database_and_os_errors_are_kept(configured, capsys):
    configured("test")

    class FakePgError(Exception):
        sqlstate = "22021"

    get_logger().warning("append_failed", error=FakePgError(f"invalid byte in {WORD}"))
    get_logger().warning("connect_failed", error=ConnectionRefusedError(111, KEY))
    first, second = _lines(capsys)
    assert first["error"]["sqlstate"] == "22021"
    assert second["error"] == {"type": "ConnectionRefusedError", "errno": 111, "frames": []}
    _assert_clean(json.dumps([first, second]))


def test_secrets_bound_or_nested_are_hidden_and_keys_in_text_replaced(configured, capsys):
    configured("test")
    get_logger().info(
        "request",
        authorization=f"Bearer {KEY}",
        headers={"x-api-key": KEY},
        api_key=KEY,
        extra={"deep": [{"password": "hunter2!x"}]},
        correlation_id=f"client-chose-{KEY}",
        count=3,
    )
    [line] = _lines(capsys)
    _assert_clean(json.dumps(line))
    assert "hunter2!x" not in json.dumps(line)
    assert line["authorization"] == line["api_key"] == line["headers"] == "[REDACTED]"
    assert line["correlation_id"] == "client-chose-[REDACTED:mnemo_key]"
    assert line["count"] == 3


def test_stdlib_records_are_json_with_the_same_scrubbing(configured, capsys):
    configured("test")
    try:
        _handle(f"Bearer {KEY}", json.dumps({"content": WORD}).encode(), KEY_SECRET)
    except ValueError as exc:
        logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=exc)
    # asyncio puts the failed future's repr (with the exception's message) after line one.
    logging.getLogger("asyncio").error(f"Task exception was never retrieved\nfuture: {WORD}")
    logging.getLogger("tenacity").warning("Retrying %s in %s s: %s", "ask", 2.0, f"{WORD} {KEY}")
    uvicorn, task, retry = _lines(capsys)
    _assert_clean(json.dumps([uvicorn, task, retry]))
    assert retry["event"] == "Retrying %s in %s s: %s" and retry["args"] == [2.0]
    assert uvicorn["event"] == "Exception in ASGI application"
    assert uvicorn["logger"] == "uvicorn.error" and uvicorn["exception"]["type"] == "ValueError"
    assert task["event"] == "Task exception was never retrieved"


def test_an_unobserved_task_failure_is_scrubbed(configured, capsys):
    configured("test")

    async def fail() -> None:
        raise ValueError(f"{WORD} {KEY}")

    async def main() -> None:
        asyncio.get_running_loop().create_task(fail())
        await asyncio.sleep(0)

    asyncio.run(main())
    gc.collect()
    text = capsys.readouterr().err
    assert "Task exception was never retrieved" in text
    _assert_clean(text)


def test_an_uncaught_exception_of_a_process_is_scrubbed():
    code = (
        "from mnemo.telemetry import configure_logging\n"
        "configure_logging('test')\n"
        f"secret = {KEY_SECRET!r}\n"
        f"raise ValueError({WORD!r} + ' ' + {KEY!r})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    _assert_clean(done.stderr)
    [line] = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    assert line["event"] == "uncaught_exception" and line["exception"]["type"] == "ValueError"


def test_an_exception_python_cannot_raise_is_scrubbed():
    """One raised in `__del__` (or a finalizer) goes to sys.unraisablehook, whose default
    prints the exception's message."""
    code = (
        "import gc\n"
        "from mnemo.telemetry import configure_logging\n"
        "configure_logging('test')\n"
        "class Holder:\n"
        "    def __del__(self):\n"
        f"        raise ValueError({WORD!r} + ' ' + {KEY!r})\n"
        "Holder()\n"
        "gc.collect()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    _assert_clean(done.stderr)
    [line] = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    assert line["event"] == "unraisable_exception" and line["exception"]["type"] == "ValueError"
