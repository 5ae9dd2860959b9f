"""Exact counters shared by every gateway replica: JetStream message counters (ADR-49).

A counter is a subject of a stream created with `allow_msg_counter`; publishing an empty
message with `Nats-Incr: +1` makes the server add one and answer the new total in the
PubAck. One round trip, no compare-and-set retries, so a count is exact under any
concurrency, across any number of replicas. Counters of a window (a minute, a month) are
subjects with the window in their name; the stream's max_age drops old windows.

nats-py does not know the stream field yet, so the stream is created with a raw JetStream
API request. The server must be 2.12 or newer (the bundled nats-server is).
"""

import contextlib
import hashlib
import json
import re
from typing import Any

from nats.aio.client import Client
from nats.errors import ConnectionClosedError, NoRespondersError, OutboundBufferLimitError
from nats.errors import TimeoutError as NatsTimeoutError

from mnemo.bus.failures import DependencyDown

MIN_SERVER = (2, 12)
_STREAM_IN_USE = 10058  # "stream name already in use with a different configuration"
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class CountersUnavailable(DependencyDown):
    """The counter store did not answer (or refused): a limit cannot be checked."""


class Counters:
    """Counters under `<prefix>.`, kept in one stream for `max_age` seconds."""

    def __init__(self, nc: Client, stream: str, prefix: str, timeout: float) -> None:
        self._nc = nc
        self._stream = stream
        self._prefix = prefix
        self._timeout = timeout

    @classmethod
    async def open(
        cls, nc: Client, stream: str, prefix: str, max_age: float, timeout: float, replicas: int = 1
    ) -> "Counters":
        version = nc.connected_server_version
        if (version.major, version.minor) < MIN_SERVER:
            raise RuntimeError(
                f"NATS server {version.major}.{version.minor} has no JetStream counters:"
                " the gateway's rate limits need 2.12 or newer (unset MNEMO_NATS_URL to use"
                " the bundled nats-server)"
            )
        counters = cls(nc, stream, prefix, timeout)
        await counters._ensure(max_age, replicas)
        return counters

    async def _ensure(self, max_age: float, replicas: int) -> None:
        config = {
            "name": self._stream,
            "subjects": [f"{self._prefix}.>"],
            "retention": "limits",
            "storage": "file",
            "discard": "old",
            "max_age": int(max_age * 1e9),
            # Only the latest total of a counter matters; older increments are dropped.
            "max_msgs_per_subject": 1,
            "allow_msg_counter": True,
            "allow_direct": True,
            "num_replicas": replicas,  # MNEMO_STREAM_REPLICAS
        }
        answer = await self._api(f"STREAM.CREATE.{self._stream}", config)
        if answer.get("error", {}).get("err_code") == _STREAM_IN_USE:
            answer = await self._api(f"STREAM.UPDATE.{self._stream}", config)
        error = answer.get("error")
        if error is not None:
            code = error.get("code")
            if code == 503:
                # JetStream not ready (a cluster electing its leader): tried again. Other
                # refusals (500: more replicas than one server can hold) are final.
                raise CountersUnavailable(f"{self._stream}: JetStream answered {code}")
            raise RuntimeError(f"cannot set up stream {self._stream}: {error}")

    async def _api(self, call: str, payload: dict[str, object]) -> dict[str, dict[str, object]]:
        reply = await self._nc.request(
            f"$JS.API.{call}", json.dumps(payload).encode(), timeout=self._timeout
        )
        return json.loads(reply.data)  # type: ignore[no-any-return]

    async def incr(self, *name: str) -> int:
        """Add one to the counter `name` and return its new total."""
        subject = self._subject(name)
        try:
            reply = await self._nc.request(
                subject, b"", headers={"Nats-Incr": "+1"}, timeout=self._timeout
            )
            ack = json.loads(reply.data)
            return int(ack["val"])
        except (NoRespondersError, NatsTimeoutError, TimeoutError) as exc:
            raise CountersUnavailable(f"{self._stream} did not answer") from exc
        except (OutboundBufferLimitError, ConnectionClosedError) as exc:
            raise CountersUnavailable("the message bus is not connected") from exc
        except (ValueError, KeyError, TypeError) as exc:
            # An error PubAck (the stream full, gone or misconfigured) has no "val".
            raise CountersUnavailable(f"{self._stream} refused the increment") from exc

    async def bump(self, *name: str) -> None:
        """Add one to the counter `name` without waiting for the total: for a count that
        only reports (usage), not one that limits. Lost if the bus is away (nothing to
        refuse: no limit hangs on it)."""
        with contextlib.suppress(OutboundBufferLimitError, ConnectionClosedError):
            await self._nc.publish(self._subject(name), b"", headers={"Nats-Incr": "+1"})

    async def totals(self, *prefix: str) -> dict[str, int]:
        """Every counter under `prefix` (the tokens after it joined by '.') and its total."""
        head = self._subject(prefix)
        try:
            info = await self._api(f"STREAM.INFO.{self._stream}", {"subjects_filter": f"{head}.>"})
        except (NoRespondersError, NatsTimeoutError, TimeoutError) as exc:
            raise CountersUnavailable(f"{self._stream} did not answer") from exc
        except (OutboundBufferLimitError, ConnectionClosedError) as exc:
            raise CountersUnavailable("the message bus is not connected") from exc
        state: dict[str, Any] = info.get("state") or {}
        subjects: dict[str, int] = state.get("subjects") or {}
        totals: dict[str, int] = {}
        for subject in subjects:
            rest = subject[len(head) + 1 :].split(".")
            totals[".".join(rest)] = await self.value(*prefix, *rest)
        return totals

    async def value(self, *name: str) -> int:
        """The counter's total now (0 when it was never counted or has expired)."""
        request = json.dumps({"last_by_subj": self._subject(name)}).encode()
        try:
            reply = await self._nc.request(
                f"$JS.API.DIRECT.GET.{self._stream}", request, timeout=self._timeout
            )
        except (NoRespondersError, NatsTimeoutError, TimeoutError) as exc:
            raise CountersUnavailable(f"{self._stream} did not answer") from exc
        except (OutboundBufferLimitError, ConnectionClosedError) as exc:
            raise CountersUnavailable("the message bus is not connected") from exc
        if (reply.headers or {}).get("Status") == "404":
            return 0
        try:
            return int(json.loads(reply.data)["val"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CountersUnavailable(f"{self._stream} answered no counter") from exc

    def _subject(self, name: tuple[str, ...]) -> str:
        return ".".join((self._prefix, *map(_token, name)))


def _token(part: str) -> str:
    # A subject token may not hold '.', '*', '>' or spaces; anything else is hashed.
    if _SAFE_TOKEN.match(part):
        return part
    return "h" + hashlib.sha256(part.encode()).hexdigest()[:24]
