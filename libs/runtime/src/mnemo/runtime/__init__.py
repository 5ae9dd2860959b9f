"""Running Mnemo on one machine: embedded NATS and PostgreSQL servers, and the supervisor
behind `make run` (`mnemo run`). Exports `NatsServer`, `PostgresServer`, `free_port`,
`docker_available`."""

from mnemo.runtime.docker import docker_available
from mnemo.runtime.nats_server import NatsServer
from mnemo.runtime.ports import free_port
from mnemo.runtime.postgres_server import PostgresServer

__all__ = ["NatsServer", "PostgresServer", "docker_available", "free_port"]
