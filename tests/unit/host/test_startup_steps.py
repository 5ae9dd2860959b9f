"""A start-up step is tried again while a dependency is away, and only then."""

import pytest
from nats.js.errors import APIError, ServiceUnavailableError

from mnemo.bus import StreamConfigRefused, settled


async def test_a_step_is_tried_again_while_jetstream_is_unavailable():
    calls = []

    async def step() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise TimeoutError
        if len(calls) == 2:
            # How ensure_stream reports JetStream's 503 ("temporarily unavailable").
            raise StreamConfigRefused("refused") from ServiceUnavailableError(code=503)
        return "made"

    assert await settled(step, "streams", first_wait=0.001) == "made"
    assert len(calls) == 3


async def test_a_refusal_for_good_stops_the_start_at_once():
    calls = []

    async def step() -> None:
        calls.append(1)
        raise StreamConfigRefused("replicas") from APIError(code=500, description="replicas")

    with pytest.raises(StreamConfigRefused):
        await settled(step, "streams", first_wait=0.001)
    assert len(calls) == 1
