"""Audit settings, from MNEMO_* environment variables."""

from mnemo.settings import DatabaseSettings


class AuditSettings(DatabaseSettings, kw_only=True, frozen=True):
    # MNEMO_AUDIT_MAX_CHAIN: the most entries one audit query returns.
    audit_max_chain: int = 1000
