"""Polling the public API until an asynchronous effect shows (no timing asserts).

The default deadline is generous (60 s): most waits are on synthesis or on the pipeline of a
loaded 2-core machine; a probe that succeeds returns at once, so only a failure waits it out.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


def eventually(probe: Callable[[], Any], *, timeout: float = 60.0, every: float = 0.2) -> Any:
    """Call `probe` until it returns something truthy; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"not reached in {timeout}s; last value: {last!r}")


async def eventually_async(
    probe: Callable[[], Awaitable[Any]], *, timeout: float = 60.0, every: float = 0.2
) -> Any:
    """`eventually` for a probe that must be awaited (an SDK client's call)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"not reached in {timeout}s; last value: {last!r}")
