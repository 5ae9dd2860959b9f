"""What a service writes is its owner's only, however it is started."""

import stat
import subprocess
import sys
import textwrap


def test_a_service_started_outside_mnemo_run_writes_owner_only_files(tmp_path):
    """`python -m mnemo.retrieval rebuild`, as the README shows it, wrote the vector store
    0644 in 0755 folders (the session's umask): every local user could read it."""
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from mnemo.host import run

        os.umask(0o022)

        async def main():
            folder = Path({str(tmp_path)!r}) / "store"
            folder.mkdir()
            (folder / "segment").write_text("session ids")

        run(main)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "store").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "store" / "segment").stat().st_mode) == 0o600
