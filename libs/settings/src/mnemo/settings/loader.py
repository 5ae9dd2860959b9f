"""Fill a msgspec Struct from the environment, naming the variable on any failure."""

import math
import os
import sys
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

PREFIX = "MNEMO_"
# A process stopped by its configuration exits with this code (sysexits' EX_CONFIG), so a
# supervisor does not start it again only to fail the same way.
CONFIG_ERROR_EXIT = 78


def config_exit(error: Exception) -> SystemExit:
    """The exit of a process whose settings are wrong: one line naming the variable on
    stderr, and CONFIG_ERROR_EXIT."""
    print(f"configuration error: {error}", file=sys.stderr, flush=True)
    return SystemExit(CONFIG_ERROR_EXIT)


T = TypeVar("T", bound=msgspec.Struct)


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def load_settings(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Read `cls`'s fields from MNEMO_<FIELD> variables; unset fields take their defaults."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    for field in msgspec.structs.fields(cls):
        value = env.get(env_name(field.name))
        if value is None:
            continue
        if value == "" and field.required:
            raise SettingsError(f"{env_name(field.name)} is set but empty")
        raw[field.name] = value
    for name, value in raw.items():
        # float() takes "nan" and "inf", which no setting means (a timeout of nan waits for
        # nothing, a max age of inf overflows JetStream's): refused by name, as any other.
        if _number(value) and not math.isfinite(float(value)):
            raise SettingsError(f"{env_name(name)} must be a finite number, not {value!r}")
    try:
        # strict=False lets "8080" become an int, "true" a bool, and so on.
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(cls, str(exc))) from None


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _explain(cls: type[msgspec.Struct], message: str) -> str:
    # msgspec says "Object missing required field `x`" or "... - at `$.x`"; name the env var.
    for field in msgspec.structs.fields(cls):
        if f"`{field.name}`" in message or f"$.{field.name}`" in message:
            head = message.split(" - at ")[0]
            if "missing required field" in message:
                return f"{env_name(field.name)} is required but not set"
            return f"{env_name(field.name)} is malformed: {head}"
    return message
