"""A consumer's counters are shown from its start, at 0."""

from types import SimpleNamespace

from prometheus_client import REGISTRY

from mnemo.bus.consumer import Consumer, ConsumerSpec
from mnemo.contracts import Topology


async def _nothing(_message: object) -> None:
    return None


def test_a_consumers_counters_are_at_zero_before_anything_happens():
    """`increase(mnemo_messages_dead_lettered_total[10m]) > 0` (the MnemoDeadLetters
    alert) saw no increase when the first dead letter made the series appear at 1."""
    durable = "series-at-start"
    publisher = SimpleNamespace(topology=Topology(root="t"))  # __init__ reads only its topology
    spec = ConsumerSpec(durable=durable, stream="S", filter_subjects=["s.>"])
    Consumer(publisher, spec, _nothing)  # type: ignore[arg-type]
    for name in (
        "mnemo_messages_dead_lettered_total",
        "mnemo_messages_consumed_total",
        "mnemo_messages_failed_total",
        "mnemo_consumer_pauses_total",
    ):
        assert REGISTRY.get_sample_value(name, {"consumer": durable}) == 0.0, name
