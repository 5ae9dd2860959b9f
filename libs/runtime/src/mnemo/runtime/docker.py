"""Whether a Docker engine is usable here (the CLI alone is not enough)."""

import shutil
import subprocess


def docker_available(timeout: float = 3.0) -> bool:
    """True when the docker CLI exists and `docker info` reaches an engine in time."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run([docker, "info"], capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0
