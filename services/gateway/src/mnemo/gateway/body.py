"""Reading a request body ahead of the app, and handing it on as if it had not been read
(the correlation and idempotency middlewares both look at the body first)."""

from typing import Any

# Plain ASGI: the messages are ordinary dicts.
Receive = Any


async def read_body(receive: Receive, limit: int | None = None) -> bytes:
    """The whole body, or (with `limit`) as much as passes it: the app refuses a larger
    one anyway, since what it is handed is still over the limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body") or (limit is not None and size > limit):
            break
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
