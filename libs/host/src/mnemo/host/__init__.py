"""Hosting a backend service process: connections, streams, consumers, queries, health,
and a clean stop on SIGTERM/SIGINT. Every backend service's bootstrap builds one `Host`.

Exports `Host` and `run`.
"""

from mnemo.host.host import Host, run

__all__ = ["Host", "run"]
