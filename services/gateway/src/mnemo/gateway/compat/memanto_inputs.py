"""The values MEMANTO's requests carry, read field by field (seed 004): each one of the
wrong kind or out of range is a 422 `VALIDATION_ERROR` naming the field, never coerced.

So `true` is not a confidence of 1.0 (a bool is an int to Python), 1.5 is not a limit of
1, and `""` or `0` is not "no tags" or "no metadata": the seed says nothing of such
values, and a client that sent one meant something we cannot know. Query parameters
arrive as text, and the routes that take both read them with the body, so a number may be
decimal text; nothing else is converted.
"""

from typing import Any

from litestar import Request

from mnemo.gateway.problems import Problem
from mnemo.gateway.validation import DECIMAL, object_body


def refused(name: str, message: str) -> Problem:
    return Problem(422, "VALIDATION_ERROR", f"{name} {message}", field=name)


async def body_of(request: Request) -> dict[str, Any]:
    """The JSON object the request carries (none: `{}`)."""
    return await object_body(request, status=422, code="VALIDATION_ERROR")


def text_of(
    values: dict[str, Any], name: str, *, required: bool = True, limit: int = 100_000
) -> str | None:
    value = values.get(name)
    if value is None or value == "":
        if required:
            raise refused(name, "is required")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise refused(name, f"must be text of at most {limit} characters")
    return value


def number_of(values: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    """A number from `low` to `high` (`default` when absent)."""
    value = values.get(name, default)
    if isinstance(value, str) and DECIMAL.fullmatch(value):
        value = float(value)  # never raises: too large a text is inf, refused below
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise refused(name, "must be a number")
    # Compared as sent: float() of a long JSON integer (10**400) raises OverflowError,
    # and a comparison of an int with a float is exact in Python. NaN fails it too.
    if not low <= value <= high:
        raise refused(name, f"must be between {low} and {high}")
    return float(value)


def count_of(values: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    """A whole number from `low` to `high`; 5.0 is 5 (JSON Schema's integer), 1.5 is refused."""
    value = number_of(values, name, default, low, high)
    if not value.is_integer():
        raise refused(name, "must be a whole number")
    return int(value)


def tags_of(values: dict[str, Any]) -> list[str]:
    """`tags`: a list of text, or (as a query parameter) comma-separated text."""
    value = values.get("tags")
    if value is None:
        return []
    if isinstance(value, str):
        value = [t.strip() for t in value.split(",") if t.strip()]
        if not value:
            raise refused("tags", "must name at least one tag when sent as text")
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise refused("tags", "must be a list of strings")
    return value


def metadata_of(values: dict[str, Any]) -> dict[str, Any]:
    """`metadata`: an object (absent or null: none)."""
    value = values.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise refused("metadata", "must be an object")
    return value


def one_of(values: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    """`name` if sent: one of `allowed`."""
    value = values.get(name)
    if value is not None and value not in allowed:
        raise refused(name, f"must be one of: {', '.join(allowed)}")
    return value
