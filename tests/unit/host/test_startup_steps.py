"""A start-up step is tried again while a dependency is away, and only then."""

import socket

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


@pytest.mark.parametrize(
    ("failure", "waited"),
    [
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), True),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), False),
        (ConnectionRefusedError(111, "refused"), True),
        (PermissionError(13, "denied"), False),
    ],
)
async def test_what_a_start_waits_for(failure, waited):
    calls = []

    async def step() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise failure
        return "made"

    if waited:
        assert await settled(step, "postgres", first_wait=0.001) == "made"
    else:
        with pytest.raises(type(failure)):
            await settled(step, "postgres", first_wait=0.001)
