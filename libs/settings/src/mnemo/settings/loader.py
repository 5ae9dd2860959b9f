"""Fill a msgspec Struct from the environment, naming the variable on any failure."""

import os
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

PREFIX = "MNEMO_"

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
    try:
        # strict=False lets "8080" become an int, "true" a bool, and so on.
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(cls, str(exc))) from None


def _explain(cls: type[msgspec.Struct], message: str) -> str:
    # msgspec says "Object missing required field `x`" or "... - at `$.x`"; name the env var.
    for field in msgspec.structs.fields(cls):
        if f"`{field.name}`" in message or f"$.{field.name}`" in message:
            head = message.split(" - at ")[0]
            if "missing required field" in message:
                return f"{env_name(field.name)} is required but not set"
            return f"{env_name(field.name)} is malformed: {head}"
    return message
