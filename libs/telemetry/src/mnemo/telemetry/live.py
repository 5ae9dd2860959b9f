"""The metrics endpoint of one process, and gauges read from the service when scraped.

prometheus-client serves the scrape from a thread of its own; gauges that need the
service's connections (NATS, PostgreSQL) are read by coroutines run on the service's event
loop for that scrape, with a deadline: a busy loop or a dependency that hangs makes a scrape
miss those gauges, never stall or fail the service.
"""

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import TimeoutError as FutureTimeout

from prometheus_client import REGISTRY, disable_created_metrics, start_http_server
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mnemo.telemetry.metrics import LIVE_GAUGES

# A sampler returns (gauge name, labels, value) readings; names are LIVE_GAUGES' keys.
Reading = tuple[str, dict[str, str], float]
Sampler = Callable[[], Awaitable[list[Reading]]]

# Seconds a scrape waits for the live gauges (Prometheus' own default timeout is 10 s).
SAMPLE_DEADLINE_S = 5.0


class LiveGauges(Collector):
    """Gauges whose readings come from `samplers`, run on `loop` at each scrape."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._samplers: list[Sampler] = []

    def add(self, sampler: Sampler) -> None:
        self._samplers.append(sampler)

    def describe(self) -> Iterable[Metric]:
        # Nothing to describe up front: registering must not run the samplers.
        return []

    def collect(self) -> Iterable[Metric]:
        future = asyncio.run_coroutine_threadsafe(self._read(), self._loop)
        try:
            readings = future.result(SAMPLE_DEADLINE_S)
        except (FutureTimeout, RuntimeError):
            future.cancel()
            return []
        families: dict[str, GaugeMetricFamily] = {}
        for name, labels, value in readings:
            doc, label_names = LIVE_GAUGES[name]
            if name not in families:
                families[name] = GaugeMetricFamily(name, doc, labels=label_names)
            families[name].add_metric([labels[n] for n in label_names], value)
        return list(families.values())

    async def _read(self) -> list[Reading]:
        results = await asyncio.gather(
            *(asyncio.wait_for(sampler(), SAMPLE_DEADLINE_S / 2) for sampler in self._samplers),
            return_exceptions=True,
        )
        # A sampler whose dependency is away contributes nothing to this scrape.
        return [r for result in results if isinstance(result, list) for r in result]


def serve_metrics(host: str, port: int) -> LiveGauges:
    """Serve this process's metrics at http://host:port/metrics; return its live gauges
    (to add samplers to). Call from the running event loop."""
    disable_created_metrics()
    live = LiveGauges(asyncio.get_running_loop())
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        if isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN:
            # The name server did not answer: no fault of the setting, and no refusal for
            # good (exit 78, which `mnemo run` does not restart); the start fails and is
            # made again (mnemo.bus.failures: a name that does not resolve stays final).
            raise
        if isinstance(exc, socket.gaierror):
            raise MetricsPortUnavailable(
                f"cannot serve metrics on {host}:{port} ({exc.strerror}); set"
                " MNEMO_METRICS_HOST to an address of this machine"
            ) from None
        raise MetricsPortUnavailable(
            f"cannot serve metrics on {host}:{port} ({exc.strerror}); set MNEMO_METRICS_PORT"
            " to a free port, or unset it"
        ) from None
    REGISTRY.register(live)
    return live


class MetricsPortUnavailable(RuntimeError):
    """The metrics port is taken (or not allowed): the service does not start."""
