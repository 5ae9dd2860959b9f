"""Typed settings read once from MNEMO_* environment variables.

Exports `load_settings` and `SettingsError`. A service declares a msgspec Struct whose
fields are its settings (each with a docstring-style comment); `load_settings` fills it
from the environment and fails with the variable's name when one is missing or malformed.
"""

from mnemo.settings.common import DatabaseSettings, ServiceSettings
from mnemo.settings.jetstream import JetStreamSettings
from mnemo.settings.loader import (
    CONFIG_ERROR_EXIT,
    PREFIX,
    SettingsError,
    config_exit,
    env_name,
    load_settings,
)

__all__ = [
    "CONFIG_ERROR_EXIT",
    "PREFIX",
    "DatabaseSettings",
    "JetStreamSettings",
    "ServiceSettings",
    "SettingsError",
    "config_exit",
    "env_name",
    "load_settings",
]
