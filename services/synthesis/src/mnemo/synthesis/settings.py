"""Synthesis settings, from MNEMO_* environment variables."""

from mnemo.settings import DatabaseSettings


class SynthesisSettings(DatabaseSettings, kw_only=True, frozen=True):
    # MNEMO_QUERY_TIMEOUT: seconds to wait for another service's answer (memory packs).
    query_timeout: float = 5.0
