"""What `mnemo run` reads from MNEMO_* environment variables, and the development key."""

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

import msgspec

from mnemo.runtime.services import SERVICES
from mnemo.settings import load_settings
from mnemo.settings.urls import HTTP, POSTGRES, check_nats_urls, check_url


class RunSettings(msgspec.Struct, kw_only=True, frozen=True):
    # MNEMO_HOME: folder for the embedded servers' data, the logs and the dev key.
    home: str = ".mnemo"
    # MNEMO_NATS_URL: use this NATS server instead of starting an embedded one.
    nats_url: str | None = None
    # MNEMO_DATABASE_URL: use this PostgreSQL DSN instead of starting an embedded server.
    database_url: str | None = None
    # MNEMO_NATS_PORT: fixed port for the embedded NATS (a free port when unset).
    nats_port: int | None = None
    # MNEMO_POSTGRES_PORT: fixed port for the embedded PostgreSQL (a free port when unset).
    postgres_port: int | None = None
    # MNEMO_GATEWAY_PORT: port the gateway listens on.
    gateway_port: int = 8080
    # MNEMO_DEV_API_KEY: the development key; generated once into MNEMO_HOME when unset.
    dev_api_key: str | None = None
    # MNEMO_DEV_TENANT: the tenant the development key acts for.
    dev_tenant: str = "dev"
    # MNEMO_QDRANT_PATH: folder of the embedded Qdrant (MNEMO_HOME/qdrant when unset).
    qdrant_path: str | None = None
    # MNEMO_KEY_SECRET: secret of the API keys' digests; generated once into MNEMO_HOME.
    key_secret: str | None = None
    # MNEMO_BUS_ROOT: first token of every NATS subject (for `mnemo admin`).
    bus_root: str = "mnemo"
    # MNEMO_LLM: "local" starts a model server (llama.cpp, Qwen2.5-Coder-1.5B) and points
    # synthesis at it; unset: no model unless MNEMO_LLM_URL names one.
    llm: str | None = None
    # MNEMO_LLM_URL: an OpenAI-compatible server for synthesis; when set, it wins over
    # MNEMO_LLM=local (no local server starts).
    llm_url: str | None = None
    # MNEMO_LLM_THREADS: threads of the local model server (one per usable core when unset).
    llm_threads: int | None = None
    # MNEMO_METRICS_PORT: the first of the services' metrics ports, one per service in
    # SERVICES' order (mnemo.runtime.supervisor.service_metrics_env); none when unset.
    metrics_port: int | None = None

    def __post_init__(self) -> None:
        for name in ("nats_port", "postgres_port", "gateway_port"):
            port = getattr(self, name)
            if port is not None and not 0 < port < 65536:
                raise ValueError(f"MNEMO_{name.upper()} must be a port number (1-65535)")
        if self.dev_api_key is not None and len(self.dev_api_key) < 16:
            raise ValueError("MNEMO_DEV_API_KEY must be at least 16 characters")
        last = 65535 - (len(SERVICES) - 1)
        if self.metrics_port is not None and not 0 < self.metrics_port <= last:
            # The gateway, the fifth, got 65536 and stopped on a port the operator never set.
            raise ValueError(
                f"MNEMO_METRICS_PORT must be a port from 1 to {last} under mnemo run "
                f"(it and the next {len(SERVICES) - 1}, one per service)"
            )
        # Checked before any server starts, as each service checks them.
        if self.nats_url is not None:
            check_nats_urls("MNEMO_NATS_URL", self.nats_url)
        if self.database_url is not None:
            check_url("MNEMO_DATABASE_URL", self.database_url, POSTGRES, host_required=False)
        if self.llm_url is not None:
            check_url("MNEMO_LLM_URL", self.llm_url, HTTP)
        if self.llm is not None and self.llm != "local":
            raise ValueError('MNEMO_LLM must be "local" or unset')
        if self.llm_threads is not None and self.llm_threads < 1:
            raise ValueError("MNEMO_LLM_THREADS must be at least 1")
        if not self.dev_tenant.replace("-", "").replace("_", "").isalnum():
            raise ValueError("MNEMO_DEV_TENANT must be letters, digits, '-' or '_'")

    @property
    def home_dir(self) -> Path:
        """MNEMO_HOME as an absolute path (children may run in another folder)."""
        return Path(self.home).expanduser().absolute()

    @property
    def logs_dir(self) -> Path:
        return self.home_dir / "logs"

    @property
    def local_llm(self) -> bool:
        """True when this run starts its own model server."""
        return self.llm == "local" and not self.llm_url

    @property
    def qdrant_dir(self) -> Path:
        return Path(self.qdrant_path).absolute() if self.qdrant_path else self.home_dir / "qdrant"


def load_run_settings(environ: Mapping[str, str] | None = None) -> RunSettings:
    """RunSettings from the environment; SettingsError names the variable at fault."""
    env = os.environ if environ is None else environ
    # An empty optional variable means "not set" (a common way to unset one in a shell).
    cleaned = {key: value for key, value in env.items() if value != ""}
    return load_settings(RunSettings, cleaned)


def home_problem(settings: RunSettings) -> str | None:
    """Why MNEMO_HOME cannot hold a run's data, logs and records, or None (its folders
    made): a file, or a folder that cannot be written, ended `mnemo run` on a traceback."""
    try:
        for folder in (settings.home_dir / "run", settings.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        # Its own name: two runs started at once on a new home each removed the other's.
        probe = settings.home_dir / "run" / f".writable-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        return f"MNEMO_HOME ({settings.home_dir}) cannot hold Mnemo's data: {exc.strerror}"
    return None


def dev_api_key(settings: RunSettings) -> str:
    """MNEMO_DEV_API_KEY, else the key stored in MNEMO_HOME, else a new one stored there."""
    if settings.dev_api_key:
        return settings.dev_api_key
    return _stored(settings.home_dir / "dev_api_key", "mk_dev_" + secrets.token_hex(16))


def key_secret(settings: RunSettings) -> str:
    """MNEMO_KEY_SECRET, else the secret stored in MNEMO_HOME, else a new one stored there."""
    if settings.key_secret:
        return settings.key_secret
    return _stored(settings.home_dir / "key_secret", secrets.token_hex(32))


def local_llm_key(settings: RunSettings) -> str:
    """The local model server's API key (so that no web page a browser shows can use it),
    generated once into MNEMO_HOME; synthesis gets it as MNEMO_LLM_API_KEY."""
    return _stored(local_llm_key_file(settings), "sk-local-" + secrets.token_hex(16))


def local_llm_key_file(settings: RunSettings) -> Path:
    return settings.home_dir / "llm" / "api_key"


def _stored(path: Path, new: str) -> str:
    if path.exists():
        stored = path.read_text().strip()
        if stored:
            return stored
    key = new
    path.parent.mkdir(parents=True, exist_ok=True)
    # Only the owner may read the key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key


def keep_home_private(settings: RunSettings) -> None:
    """What `mnemo run` and `mnemo servers` write under MNEMO_HOME is for its owner only.

    The logs hold user ids and paths; the vector store keeps each memory's session id and
    source id (a conversation's name, a file's name) beside its vectors; with the usual
    umask (022) both were readable by every local user, while PostgreSQL's and NATS's data
    were not. Every file made from here on (by this process and the servers and services
    it starts) is the owner's only (umask 077), and the folders an earlier run left open
    are closed. (PostgreSQL, run as its own user when we are root, is let through its
    data folder's parents afterwards: mnemo.runtime.postgres_owner.)"""
    os.umask(0o077)
    home = settings.home_dir
    home.mkdir(parents=True, exist_ok=True)
    for folder in (home, settings.logs_dir, settings.qdrant_dir, home / "run", home / "llm"):
        if folder.is_dir() and folder.is_relative_to(home):
            mode = stat.S_IMODE(folder.stat().st_mode)
            if mode & 0o077:
                folder.chmod(mode & 0o700)
