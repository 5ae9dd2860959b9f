"""Synthesis settings, from MNEMO_* environment variables."""

from mnemo.settings import DatabaseSettings


class SynthesisSettings(DatabaseSettings, kw_only=True, frozen=True):
    pass
