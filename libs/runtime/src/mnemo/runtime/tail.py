"""`mnemo tail`: follow the gateway's event stream (GET /v1/events/stream) and print it.

One line per event: `<recorded_at> <event_type> <service> user=<u> corr=<correlation_id>`.
A dropped connection is resumed with `Last-Event-ID`, so nothing is missed or repeated;
Ctrl-C exits 0.
"""

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from mnemo.settings.clients import KEY_TEXT, url_problem


def default_url(port: int) -> str:
    """The gateway `mnemo run` starts on `port` (MNEMO_GATEWAY_PORT)."""
    return f"http://127.0.0.1:{port}"


RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 10.0
# The server pings every 15 s; a silent connection for this long is a dead one.
READ_TIMEOUT = 45.0


class TailError(Exception):
    """Something a retry will not fix (a wrong key, a bad filter)."""


def check_url(url: str) -> None:
    """Raise TailError unless `url` can be the gateway's (`url_problem`)."""
    if problem := url_problem(url):
        hint = (
            "; pass the API key with --key (or MNEMO_DEV_API_KEY)"
            if "user" in problem
            else " (e.g. http://127.0.0.1:8080)"
        )
        raise TailError(f"--url {problem}{hint}")


def check_key(key: str) -> None:
    """Raise TailError unless `key` can be sent as a Bearer key; never quotes it."""
    if not KEY_TEXT.fullmatch(key):
        raise TailError(
            "the API key (--key, MNEMO_DEV_API_KEY or MNEMO_HOME/dev_api_key) must be"
            " printable ASCII without spaces, as Mnemo's mk_ and ak_ keys are"
        )


def check_filters(**options: str | list[str] | None) -> None:
    """Raise TailError naming an option that is not text (a byte of the command line that
    is not UTF-8 reaches Python as a lone surrogate, which no URL can carry)."""
    for name, value in options.items():
        for one in [value] if isinstance(value, str) else value or []:
            try:
                one.encode("utf-8")
            except UnicodeEncodeError:
                raise TailError(f"--{name} is not valid UTF-8 text") from None


@dataclass
class SseEvent:
    id: str | None = None
    event: str = "message"
    data: list[str] = field(default_factory=list)


def parse_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Server-Sent Events from a stream of lines (comments and `retry:` are skipped)."""
    current = SseEvent()
    for line in lines:
        if line == "":
            if current.data or current.id is not None:
                yield current
            current = SseEvent()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            current.id = value
        elif name == "event":
            current.event = value
        elif name == "data":
            current.data.append(value)


def format_event(data: dict[str, Any]) -> str:
    return (
        f"{data.get('recorded_at')} {data.get('event_type')} {data.get('service')}"
        f" user={data.get('user_id') or '-'} corr={data.get('correlation_id')}"
    )


def resolve_key(given: str | None, environ: dict[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    if given:
        return given
    if key := env.get("MNEMO_DEV_API_KEY"):
        return key
    path = Path(env.get("MNEMO_HOME", ".mnemo")).expanduser() / "dev_api_key"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def tail(
    url: str,
    key: str,
    *,
    types: list[str] | None = None,
    user: str | None = None,
    agent: str | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Follow the stream forever, reconnecting after drops; raises TailError on a 4xx, and
    before any request on a URL, key or filter that no request can carry."""
    check_url(url)
    check_key(key)
    check_filters(type=types, user=user, agent=agent)
    query: dict[str, str | list[str]] = {"type": list(types or [])}
    query.update({name: v for name, v in (("userId", user), ("agentId", agent)) if v})
    params = httpx.QueryParams(query)
    last_id: str | None = None
    delay = RETRY_SECONDS
    timeout = httpx.Timeout(10.0, read=READ_TIMEOUT)
    connected = False
    with httpx.Client(base_url=url, timeout=timeout) as client:
        while True:
            headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
            if last_id is not None:
                headers["Last-Event-ID"] = last_id
            try:
                with client.stream(
                    "GET", "/v1/events/stream", params=params, headers=headers
                ) as response:
                    if 400 <= response.status_code < 500 and response.status_code != 429:
                        response.read()
                        raise TailError(f"{response.status_code}: {response.text.strip()}")
                    if response.status_code != 200:
                        raise httpx.TransportError(f"status {response.status_code}")
                    delay = RETRY_SECONDS
                    connected = True
                    for event in parse_sse(response.iter_lines()):
                        if event.event == "overflow":
                            print("mnemo tail: fell behind; resuming", file=err, flush=True)
                            break
                        if event.id is not None:
                            last_id = event.id
                        try:
                            data = json.loads("\n".join(event.data))
                        except ValueError:
                            continue
                        if isinstance(data, dict):
                            print(format_event(data), file=out, flush=True)
                # The server ended the stream (restarting?): resume after a pause.
                sleep(RETRY_SECONDS)
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
                # Our own request is what is wrong: a retry sends it again. Not the text,
                # which may quote a header, and so the key.
                raise TailError(
                    f"the request cannot be sent ({type(exc).__name__}); check --url and --key"
                ) from None
            except httpx.ConnectError as exc:
                if not connected:
                    # Nothing ever answered here: a wrong URL or port, or Mnemo not running.
                    raise TailError(
                        f"no gateway answers at {url} ({exc or type(exc).__name__}); is"
                        " `make run` running? pass --url, or set MNEMO_GATEWAY_PORT"
                    ) from None
                print(
                    f"mnemo tail: {exc or type(exc).__name__}; reconnecting", file=err, flush=True
                )
                sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
            except httpx.HTTPError as exc:
                print(
                    f"mnemo tail: {exc or type(exc).__name__}; reconnecting", file=err, flush=True
                )
                sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)


def run_tail(
    url: str,
    key: str | None,
    types: list[str] | None,
    user: str | None,
    agent: str | None = None,
) -> int:
    """The `mnemo tail` command; returns the exit code."""
    key = resolve_key(key)
    if not key:
        print(
            "mnemo tail: no API key: pass --key, set MNEMO_DEV_API_KEY,"
            " or run from where MNEMO_HOME/dev_api_key exists",
            file=sys.stderr,
        )
        return 2
    try:
        tail(url, key, types=types, user=user, agent=agent)
    except KeyboardInterrupt:
        return 0
    except TailError as exc:
        print(f"mnemo tail: {exc}", file=sys.stderr)
        return 2
    return 0
