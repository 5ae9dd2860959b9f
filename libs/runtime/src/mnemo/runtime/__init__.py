"""Running Mnemo on one machine: embedded NATS and PostgreSQL servers, and the supervisor
behind `make run` (`mnemo run`).

Exports `NatsServer`, `PostgresServer`, `free_port`, `port_open`, `docker_available`,
`RunSettings`, `load_run_settings` and `Supervisor`.
"""

from mnemo.runtime.docker import docker_available
from mnemo.runtime.nats_server import NatsServer, NatsServerError
from mnemo.runtime.ports import free_port, port_open
from mnemo.runtime.postgres_server import PostgresServer, PostgresServerError
from mnemo.runtime.settings import RunSettings, load_run_settings
from mnemo.runtime.supervisor import Supervisor

__all__ = [
    "NatsServer",
    "NatsServerError",
    "PostgresServer",
    "PostgresServerError",
    "RunSettings",
    "Supervisor",
    "docker_available",
    "free_port",
    "load_run_settings",
    "port_open",
]
