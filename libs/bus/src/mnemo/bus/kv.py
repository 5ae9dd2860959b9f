"""KV buckets: made with the configured replicas, and erasable where a forget needs it.

`key_value` makes a plain bucket (what `create_key_value` makes) or, when it exists with
other settings (the replicas changed), updates its stream to them.

A bucket made by `create_key_value` denies message deletes, and a stream can never be
updated to allow them again; its entries can then only be purged, which drops them from
the index but leaves their bytes in the stream's files. A bucket made here is the same
KV bucket (clients bind to it with `key_value`) with deletes allowed, so the eraser can
overwrite an entry's stored bytes (mnemo.bus.erasure).
"""

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, KeyValueConfig, StorageType, StreamConfig
from nats.js.errors import APIError, BadRequestError, NotFoundError
from nats.js.kv import KeyValue

from mnemo.bus.streams import StreamConfigRefused, ensure_stream

KV_DUPLICATE_WINDOW = 120.0  # what create_key_value sets (bounded by the TTL)


def kv_stream(bucket: str) -> str:
    return f"KV_{bucket}"


async def key_value(
    js: JetStreamContext, bucket: str, *, replicas: int = 1, ttl: float = 0, history: int = 1
) -> KeyValue:
    """The bucket, made if missing; an existing one gets `replicas` and `ttl` (the only
    settings of a bucket that change between releases)."""
    config = KeyValueConfig(bucket=bucket, history=history, ttl=ttl or None, replicas=replicas)
    try:
        return await js.create_key_value(config)
    except BadRequestError:
        info = await js.stream_info(kv_stream(bucket))
        info.config.num_replicas = replicas
        info.config.max_age = ttl
        await ensure_stream(js, info.config)
        return await js.key_value(bucket)
    except APIError as exc:
        raise StreamConfigRefused(
            f"JetStream refused the settings of KV bucket {bucket}: {exc.description}"
        ) from exc


async def erasable_key_value(
    js: JetStreamContext,
    bucket: str,
    *,
    ttl: float,
    history: int = 1,
    cache: bool = False,
    replicas: int = 1,
) -> KeyValue:
    """The bucket, made erasable. `cache`: the entries may be lost, so a bucket made
    before (deletes denied) is dropped and made again rather than left unerasable."""
    name = kv_stream(bucket)
    config = StreamConfig(
        name=name,
        subjects=[f"$KV.{bucket}.>"],
        allow_direct=True,
        allow_rollup_hdrs=True,
        deny_delete=False,
        discard=DiscardPolicy.NEW,
        duplicate_window=min(KV_DUPLICATE_WINDOW, ttl) if ttl else KV_DUPLICATE_WINDOW,
        max_age=ttl,
        max_consumers=-1,
        max_msgs=-1,
        max_msgs_per_subject=history,
        num_replicas=replicas,
        storage=StorageType.FILE,
    )
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        info = None
    if info is not None and info.config.deny_delete:
        if not cache:
            raise RuntimeError(f"the KV bucket {bucket} denies deletes and is not a cache")
        try:
            await js.delete_stream(name)
        except NotFoundError:
            pass  # another replica did it first
        info = None
    await ensure_stream(js, config)
    return await js.key_value(bucket)
