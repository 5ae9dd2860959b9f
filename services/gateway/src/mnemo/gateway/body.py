"""Reading a request body ahead of the app, and handing it on as if it had not been read
(the correlation, input guard and idempotency middlewares all look at the body first).

Every reader reads through `read_body`, within one deadline (MNEMO_BODY_TIMEOUT): a
client that announces a body and sends it slowly, or only in part, would otherwise hold
its connection, and the load-shedding slot its request took, for as long as it likes."""

import asyncio
from typing import Any

# Plain ASGI: the messages are ordinary dicts.
Receive = Any

DEFAULT_TIMEOUT = 30.0  # seconds: MNEMO_BODY_TIMEOUT's default


class BodyTimeout(Exception):
    """The body did not all arrive within the deadline: the request is answered 408 and
    its connection closed (what is left of the body may still be on its way)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"the request body did not arrive within {timeout:g} seconds")
        self.timeout = timeout


async def read_body(receive: Receive, limit: int | None = None, *, timeout: float) -> bytes:
    """The whole body, or (with `limit`) as much as passes it: the app refuses a larger
    one anyway, since what it is handed is still over the limit. Raises BodyTimeout when
    it has not come within `timeout` seconds of the call (a body already read and handed
    on by `replay` comes at once)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunk = message.get("body", b"")
                chunks.append(chunk)
                size += len(chunk)
                if not message.get("more_body") or (limit is not None and size > limit):
                    break
    except TimeoutError:
        raise BodyTimeout(timeout) from None
    return b"".join(chunks)


def replay(body: bytes, then: Receive | None = None) -> Receive:
    """A `receive` that gives `body` once, then what `then` gives (a disconnect, when it
    comes), or at once a disconnect without `then`."""
    sent = False

    async def receive() -> Any:
        nonlocal sent
        if sent:
            return await then() if then is not None else {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
