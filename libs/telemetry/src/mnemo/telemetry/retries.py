"""Logging a call that failed and is tried again, without what its failure said.

tenacity's own `before_sleep_log` writes its line already filled in
(`Retrying f in 1 seconds as it raised X: <the exception's message>`), and that message
may quote what was sent: an embedding or model server's 5xx answer can echo its input,
the memory. `log_retry` logs a fixed template with the numbers as arguments and the
exception as `exc_info`, which the log pipeline describes by class, codes and frames
(`mnemo.telemetry.scrub`). It uses stdlib logging only, so a library without structlog
can use it too.
"""

import logging
from collections.abc import Callable
from typing import Any


def log_retry(
    logger: logging.Logger, call: str, level: int = logging.WARNING
) -> Callable[..., None]:
    """A tenacity `before_sleep` callback logging the retry of `call` (a fixed name)."""
    template = "Retrying " + call + " in %s seconds after attempt %s failed"

    def before_sleep(state: Any) -> None:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        delay = state.next_action.sleep if state.next_action is not None else 0
        logger.log(level, template, delay, state.attempt_number, exc_info=error)

    return before_sleep
