"""Ingest settings, from MNEMO_* environment variables."""

from mnemo.settings import DatabaseSettings


class IngestSettings(DatabaseSettings, kw_only=True, frozen=True):
    # MNEMO_RELAY_ENABLED: run the log relay in this process (one or more replicas may).
    relay_enabled: bool = True
    # MNEMO_RELAY_BATCH: how many events the relay publishes per round trip.
    relay_batch: int = 500
