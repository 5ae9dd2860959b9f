"""A key the gateway cannot look up is answered 503, never 401.

A key issued a moment ago (or any key when the gateway's copy of the keys bucket is not
complete) is read from the bucket. If NATS is away then, the key is not known to be
invalid: a 401 would tell a valid caller its key is wrong, and count against its address's
failed-auth limit.
"""

import pytest

from mnemo.bus import connect, key_value
from mnemo.gateway.auth import KeyCache
from mnemo.gateway.problems import Problem
from mnemo.runtime.nats_server import NatsServer


async def test_a_key_lookup_with_nats_away_is_503_not_401(tmp_path):
    server = NatsServer(tmp_path / "nats")
    nc = await connect(server.start(), name="mnemo-tests")
    cache = None
    try:
        js = nc.jetstream()
        cache = KeyCache(await key_value(js, "T_KEYS"), await key_value(js, "T_KEY_USAGE"))
        await cache.start()
        # With the bucket there, an unknown key is simply unknown.
        assert await cache.grant("no-such-digest") is None
        server.stop()
        with pytest.raises(Problem) as refused:
            await cache.grant("a-digest-issued-a-moment-ago")
        assert refused.value.status == 503
        assert refused.value.headers["Retry-After"]
    finally:
        if cache is not None:
            await cache.stop()
        await nc.close()
        server.stop()
