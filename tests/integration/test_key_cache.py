"""The gateway's copy of the keys follows the bucket across a NATS restart: the watch is
made again once the connection is back, rather than left to notice its consumer is gone
(a revocation made meanwhile took 10-18 s to count)."""

import asyncio

import msgspec

from mnemo.bus import connect, key_value, when_reconnected
from mnemo.contracts import KeyGrant
from mnemo.gateway.auth import KeyCache
from mnemo.runtime.nats_server import NatsServer


async def _until(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_the_keys_are_watched_anew_when_nats_comes_back(tmp_path):
    nats = NatsServer(tmp_path / "nats")
    url = nats.start()
    nc = await connect(url, name="key-cache-test")
    writer = None
    cache = None
    try:
        js = nc.jetstream()
        keys, usage = await key_value(js, "t-keys"), await key_value(js, "t-usage")
        live = KeyGrant(key_id="k1", tenant_id="t", kind="agent", agent_id="a")
        gone = KeyGrant(key_id="k2", tenant_id="t", kind="agent", agent_id="a")
        await keys.put("digest-1", msgspec.json.encode(live))
        await keys.put("digest-2", msgspec.json.encode(gone))
        cache = KeyCache(keys, usage)
        await cache.start()
        when_reconnected(nc, cache.resync)
        assert cache.cached("digest-1") == live and cache.watches == 1

        nats.stop()
        nats.start()
        await _until(lambda: nc.is_connected and cache.watches >= 2)
        # Written by another connection once NATS is back: the revocation, and a key that
        # went while the watch was away is gone from the copy too.
        writer = await connect(url, name="key-writer")
        bucket = await key_value(writer.jetstream(), "t-keys")
        revoked = msgspec.structs.replace(live, revoked=True)
        await bucket.put("digest-1", msgspec.json.encode(revoked))
        await bucket.delete("digest-2")
        await _until(lambda: (g := cache.cached("digest-1")) is not None and g.revoked)
        await _until(lambda: cache.cached("digest-2") is None)
    finally:
        if cache is not None:
            await cache.stop()
        if writer is not None:
            await writer.close()
        await nc.close()
        nats.stop()
