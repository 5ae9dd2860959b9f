"""Audit settings, from MNEMO_* environment variables."""

from mnemo.settings import DatabaseSettings


class AuditSettings(DatabaseSettings, kw_only=True, frozen=True):
    # MNEMO_AUDIT_MAX_CHAIN: the most entries one audit query returns.
    audit_max_chain: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.audit_max_chain < 1:
            raise ValueError("MNEMO_AUDIT_MAX_CHAIN must be at least 1")
