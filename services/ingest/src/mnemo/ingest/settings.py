"""Ingest settings, from MNEMO_* environment variables."""

from mnemo.settings import DatabaseSettings


class IngestSettings(DatabaseSettings, kw_only=True, frozen=True):
    # MNEMO_RELAY_ENABLED: run the log relay in this process (one or more replicas may).
    relay_enabled: bool = True
    # MNEMO_RELAY_BATCH: how many events the relay publishes per round trip.
    relay_batch: int = 500
    # MNEMO_CHUNK_MAX_CHARS: longest searchable chunk of a memory, in characters.
    chunk_max_chars: int = 1200
    # MNEMO_CHUNK_OVERLAP_CHARS: how much of a chunk the next one repeats.
    chunk_overlap_chars: int = 200
    # MNEMO_KEY_SECRET: server secret of the API keys' HMAC-SHA256 digests (the gateway
    # needs the same value); without it no key can be issued.
    key_secret: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.key_secret is not None and len(self.key_secret) < 16:
            raise ValueError("MNEMO_KEY_SECRET must be at least 16 characters")
        if self.relay_batch < 1:
            raise ValueError("MNEMO_RELAY_BATCH must be at least 1")
        if self.chunk_max_chars < 1:
            raise ValueError("MNEMO_CHUNK_MAX_CHARS must be at least 1")
        if not 0 <= self.chunk_overlap_chars < self.chunk_max_chars:
            raise ValueError(
                "MNEMO_CHUNK_OVERLAP_CHARS must be 0 or more and less than MNEMO_CHUNK_MAX_CHARS"
            )
