"""`make run` from nothing: embedded servers, the README's curl examples as written,
a clean stop, and a second run that still has the data."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mnemo.runtime.ports import free_port, port_open

from .waiting import eventually

README = Path(__file__).resolve().parents[2] / "README.md"
MNEMO = str(Path(sys.executable).with_name("mnemo"))

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="the examples use curl")


def readme_blocks() -> list[list[str]]:
    """The shell commands of each bash block under '## Try it': continuation lines joined,
    and a quoted argument that spans lines kept whole."""
    section = README.read_text().split("## Try it", 1)[1].split("\n## ", 1)[0]
    blocks = []
    for body in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        commands: list[str] = []
        pending = ""
        for line in body.replace("\\\n", " ").splitlines():
            if not pending and (not line.strip() or line.startswith("#")):
                continue
            pending = f"{pending}\n{line}" if pending else line
            if pending.count("'") % 2 == 0:
                commands.append(pending)
                pending = ""
        blocks.append(commands)
    return blocks


class Run:
    """`mnemo run` in a folder, as a user starts it; stdout is collected as it comes."""

    def __init__(self, cwd: Path, port: int, **settings: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
        env.update(settings, MNEMO_GATEWAY_PORT=str(port))
        self.proc = subprocess.Popen(
            [MNEMO, "run"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout: float = 150) -> str:
        def ready() -> bool:
            assert self.proc.poll() is None, "".join(self.lines)
            return any("Mnemo is running" in line for line in self.lines)

        eventually(ready, timeout=timeout, every=0.5)
        return "".join(self.lines)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


def shell(cwd: Path, exports: list[str], command: str, port: int) -> str:
    script = "\n".join([*exports, command]).replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    result = subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_then_the_readme_examples_work_and_data_survives_a_restart(tmp_path):
    port = free_port()
    run = Run(tmp_path, port)
    try:
        banner = run.wait_ready()
        key = (tmp_path / ".mnemo" / "dev_api_key").read_text().strip()
        assert f"http://127.0.0.1:{port}" in banner and key in banner
        assert f"http://127.0.0.1:{port}/console" in banner
        assert (tmp_path / ".mnemo" / "logs" / "gateway.log").exists()

        first, more, errors = readme_blocks()
        exports, (ingest, search, audit, health) = first[:2], first[2:]
        [bad_ingest] = errors
        assert '"queued":true' in shell(tmp_path, exports, ingest, port)
        eventually(lambda: "TypeScript" in shell(tmp_path, exports, search, port))
        five = ["audit", "gateway", "ingest", "retrieval", "synthesis"]
        eventually(lambda: json.loads(shell(tmp_path, exports, audit, port))["services"] == five)
        assert '"status":"ok"' in shell(tmp_path, exports, health, port)
        assert '"field":"userId"' in shell(tmp_path, exports, bad_ingest, port)
    finally:
        code = run.stop()
    assert code == 0, "".join(run.lines)
    assert not port_open("127.0.0.1", port)

    again = Run(tmp_path, port)
    try:
        again.wait_ready()
        first, more, _ = readme_blocks()
        exports, search = first[:2], first[3]
        assert "TypeScript" in shell(tmp_path, exports, search, port)
        batch, listing, forget = more
        assert '"queued":2' in shell(tmp_path, exports, batch, port)
        eventually(lambda: "Prefers email" in shell(tmp_path, exports, listing, port))
        forgotten = json.loads(shell(tmp_path, exports, forget, port))
        assert forgotten["deleted"] is True and forgotten["removed"]["memories"] == 3
    finally:
        assert again.stop() == 0, "".join(again.lines)


def _kill_from_pid_file(pid_file: Path) -> None:
    import psutil

    process = psutil.Process(int(pid_file.read_text().splitlines()[0]))
    family = [process, *process.children(recursive=True)]
    for member in family:
        member.kill()
    psutil.wait_procs(family, timeout=15)


def test_the_supervisor_restarts_nats_and_postgres_and_cleans_up_after_itself(tmp_path):
    import httpx

    port = free_port()
    run = Run(tmp_path, port)
    home = tmp_path / ".mnemo"
    try:
        run.wait_ready()
        key = (home / "dev_api_key").read_text().strip()
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=15,
        )
        for n, pid_file in enumerate(
            (home / "nats" / "nats-server.pid", home / "postgres" / "postmaster.pid")
        ):
            _kill_from_pid_file(pid_file)

            def recovered(n: int = n) -> bool:
                response = api.post("/v1/ingest", json={"userId": "sv", "content": f"after {n}"})
                return response.status_code == 202

            eventually(recovered, timeout=120, every=1.0)
            eventually(
                lambda n=n: any(
                    m["content"] == f"after {n}"
                    # While PostgreSQL restarts the listing may answer 503 (no "memories").
                    for m in api.get("/v1/memories", params={"userId": "sv"})
                    .json()
                    .get("memories", [])
                ),
                timeout=120,
                every=1.0,
            )
        assert any("restarting it" in line for line in run.lines), "".join(run.lines)
        assert (home / "run" / "nats_url").exists()
    finally:
        code = run.stop()
    assert code == 0, "".join(run.lines)
    assert not (home / "run" / "nats_url").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    admin = subprocess.run(
        [MNEMO, "admin", "create-tenant", "--name", "late"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert admin.returncode != 0
    assert "Traceback" not in admin.stderr and "make run" in admin.stderr
