"""The LLM's call slots: at most n calls at once, and a question waiting goes before the
memories waiting to be read again (background work), whatever order they came in."""

import asyncio

from mnemo.synthesis.llm import Slots


async def test_a_waiting_answer_goes_before_waiting_extractions():
    slots = Slots(1)
    order: list[str] = []
    held = asyncio.Event()
    release = asyncio.Event()

    async def call(name: str, urgent: bool) -> None:
        async with slots.take(urgent=urgent):
            order.append(name)
            if name == "first":
                held.set()
                await release.wait()

    first = asyncio.create_task(call("first", urgent=False))
    await held.wait()
    waiting = [asyncio.create_task(call(f"extract-{i}", urgent=False)) for i in range(3)]
    await asyncio.sleep(0)  # the extractions queue before the answer does
    waiting.append(asyncio.create_task(call("answer", urgent=True)))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiting)
    assert order == ["first", "answer", "extract-0", "extract-1", "extract-2"]


async def test_no_more_than_n_at_once_and_a_cancelled_answer_blocks_nothing():
    slots = Slots(2)
    inside = 0
    most = 0
    gate = asyncio.Event()

    async def call(urgent: bool) -> None:
        nonlocal inside, most
        async with slots.take(urgent=urgent):
            inside += 1
            most = max(most, inside)
            await gate.wait()
            inside -= 1

    busy = [asyncio.create_task(call(urgent=False)) for _ in range(2)]
    await asyncio.sleep(0)
    answer = asyncio.create_task(call(urgent=True))
    later = asyncio.create_task(call(urgent=False))
    await asyncio.sleep(0)
    answer.cancel()  # the asker went away while waiting
    gate.set()
    await asyncio.gather(*busy, later)
    assert most == 2
    assert later.done() and not later.cancelled()
