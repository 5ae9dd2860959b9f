"""A whole Mnemo stack of its own for a benchmark run, and the machine it runs on.

NATS and PostgreSQL are started embedded unless MNEMO_NATS_URL / MNEMO_DATABASE_URL point
at running ones; then `mnemo run` starts the five services on a free port with a fresh key.
"""

import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mnemo.runtime.nats_server import NatsServer
from mnemo.runtime.ports import free_port
from mnemo.runtime.postgres_server import PostgresServer


@dataclass(frozen=True)
class LocalStack:
    base_url: str
    api_key: str
    database_url: str
    nats_url: str
    pid: int  # of `mnemo run`, the parent of every service process
    home: Path  # MNEMO_HOME of the services: their logs, the embedded Qdrant's folder


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
    }


def describe(m: dict[str, Any]) -> str:
    return f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']:.0f} GiB, Python {m['python']}"


@contextmanager
def local_stack(
    prefix: str = "mnemo-bench-",
    prepare: Callable[[Path, str], None] | None = None,
    log_level: str = "warning",
) -> Iterator[LocalStack]:
    """A running stack; `prepare(MNEMO_HOME, database DSN)` runs before the services start
    (to seed it), once PostgreSQL is up. The services log at `log_level`."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, ExitStack() as stack:
        home = Path(tmp)
        if keep := os.environ.get("MNEMO_BENCH_LOGS"):
            # Runs last: the services' logs, once they stopped, outlive the stack.
            stack.callback(shutil.copytree, home / "home" / "logs", keep, dirs_exist_ok=True)
        nats_url = os.environ.get("MNEMO_NATS_URL")
        dsn = os.environ.get("MNEMO_DATABASE_URL")
        if not nats_url:
            nats = NatsServer(home / "nats")
            nats_url = nats.start()
            stack.callback(nats.stop)
        if not dsn:
            pg = PostgresServer(home / "postgres")
            dsn = pg.start()
            stack.callback(pg.stop)
        if prepare is not None:
            prepare(home / "home", dsn)
        port = free_port()
        key = "mk_bench_" + os.urandom(12).hex()
        env = {
            **os.environ,
            "MNEMO_HOME": str(home / "home"),
            "MNEMO_NATS_URL": nats_url,
            "MNEMO_DATABASE_URL": dsn,
            "MNEMO_GATEWAY_PORT": str(port),
            "MNEMO_DEV_API_KEY": key,
            "MNEMO_LOG_LEVEL": log_level,
        }
        run = subprocess.Popen(
            [str(Path(sys.executable).with_name("mnemo")), "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(lambda: (run.send_signal(signal.SIGTERM), run.wait(30)))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or run.poll() is not None:
                raise SystemExit("the stack did not become healthy")
            time.sleep(0.5)
        yield LocalStack(
            base_url=base,
            api_key=key,
            database_url=dsn,
            nats_url=nats_url,
            pid=run.pid,
            home=home / "home",
        )


def start_local_model(
    tmp: Path, models_dir: str, *, api_key: str | None = None, context_tokens: int | None = None
) -> tuple[Any, str, str]:
    """The bundled local model, joined (once) into `models_dir` and served from `tmp`:
    (the running LlmServer, its URL, the model's name). `api_key`: the key it demands."""
    from mnemo.runtime.llm_model import QWEN_CODER_1_5B, assemble
    from mnemo.runtime.llm_server import LlmServer

    key_file = None
    if api_key is not None:
        key_file = tmp / "key"
        key_file.write_text(api_key)
    print("joining / starting the local model ...", flush=True)
    server = LlmServer(
        assemble(QWEN_CODER_1_5B, Path(models_dir)),
        QWEN_CODER_1_5B.name,
        api_key_file=key_file,
        log_path=tmp / "llm.log",
        pid_file=tmp / "llm.pid",
        context_tokens=context_tokens,
    )
    return server, server.start(), QWEN_CODER_1_5B.name
