"""GET /v1/events/stream (Server-Sent Events) and `mnemo tail`, against the real stack."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import httpx
import nats
import pytest

from mnemo.gateway.routes import events as events_route

from .waiting import eventually

FIELDS = {
    "event_id",
    "event_type",
    "tenant_id",
    "stream_id",
    "occurred_at",
    "recorded_at",
    "correlation_id",
    "causation_id",
    "service",
    "user_id",
    "agent_id",
    "memory_id",
}


class SseReader:
    """Reads the event stream in a background thread until stopped (or `limit` seconds)."""

    def __init__(
        self,
        base_url: str,
        key: str,
        params: dict[str, Any] | list[tuple[str, str]] | None = None,
        *,
        last_event_id: int | None = None,
        limit: float = 90.0,
    ) -> None:
        self.url = f"{base_url}/v1/events/stream"
        self.headers = {"Authorization": f"Bearer {key}"}
        if last_event_id is not None:
            self.headers["Last-Event-ID"] = str(last_event_id)
        self.params = httpx.QueryParams({"heartbeat": "1"}).merge(params or {})
        self.events: list[dict[str, Any]] = []
        self.comments: list[str] = []
        self.raw: list[str] = []
        self.status: int | None = None
        self.error: BaseException | None = None
        self.overflows = 0
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + limit
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.connected.wait(30), f"stream not connected: {self.status} {self.error!r}"
        assert self.status == 200, self.status

    def _run(self) -> None:
        """Read as an EventSource does: after `event: overflow` (the server's queue for this
        client filled, as a replay of a long history can), reconnect with Last-Event-ID
        where the server says it stopped, so the events read have no gap and no repeat."""
        try:
            resume: str | None = None
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                if resume is not None:
                    self.headers["Last-Event-ID"] = resume
                resume = self._read_once()
                if resume is None:
                    return
        except BaseException as exc:  # the test thread reads it
            self.error = exc
        finally:
            self.connected.set()

    def _read_once(self) -> str | None:
        """One connection; the Last-Event-ID to resume from after an overflow, else None."""
        with (
            httpx.Client(timeout=httpx.Timeout(10.0, read=20.0)) as client,
            client.stream("GET", self.url, params=self.params, headers=self.headers) as r,
        ):
            self.status = r.status_code
            if r.status_code != 200:
                self.connected.set()
                return None
            assert r.headers["content-type"].startswith("text/event-stream")
            current: dict[str, Any] = {}
            for line in r.iter_lines():
                self.raw.append(line)
                if line.startswith(":"):
                    self.comments.append(line)
                    if line == ": connected":
                        self.connected.set()
                elif line == "":
                    if current.get("event") == "overflow":
                        self.overflows += 1
                        return str(current["json"]["lastEventId"])
                    if "data" in current:  # not the `retry:` line
                        self.events.append(current)
                    current = {}
                else:
                    name, _, value = line.partition(": ")
                    current[name] = value
                    if name == "data":
                        current["json"] = json.loads(value)
                if self._stop.is_set() or time.monotonic() > self._deadline:
                    return None
        return None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive()

    def of_user(self, user: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("json", {}).get("user_id") == user]

    def ids(self) -> list[str]:
        return [e["id"] for e in self.events if "id" in e]


def ingest(api: httpx.Client, user: str, content: str, **extra: Any) -> str:
    response = api.post("/v1/ingest", json={"userId": user, "content": content, **extra})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def fresh_user() -> str:
    return "sse-" + uuid.uuid4().hex[:10]


@pytest.fixture
def reader(stack):
    readers: list[SseReader] = []

    def open_reader(params=None, **kwargs) -> SseReader:
        r = SseReader(stack.base_url, stack.api_key, params, **kwargs)
        readers.append(r)
        return r

    yield open_reader
    for r in readers:
        r.stop()


def test_events_say_what_happened_and_never_what_was_said(stack, api, reader):
    sse = reader()
    user, correlation = fresh_user(), "corr-" + uuid.uuid4().hex
    secret = "my secret pineapple recipe " + uuid.uuid4().hex
    response = api.post(
        "/v1/ingest",
        json={"userId": user, "content": secret, "agentId": "agent-7"},
        headers={"x-correlation-id": correlation},
    )
    assert response.status_code == 202, response.text
    memory_id = response.json()["id"]

    def seen() -> set[str]:
        return {e["event"] for e in sse.of_user(user)}

    eventually(lambda: {"memory.recorded", "memory.synthesized"} <= seen(), timeout=60)
    recorded = next(e for e in sse.of_user(user) if e["event"] == "memory.recorded")
    data = recorded["json"]
    assert set(data) == FIELDS
    assert data["event_type"] == "memory.recorded"
    assert data["tenant_id"] == "e2e"
    assert data["memory_id"] == memory_id
    assert data["correlation_id"] == correlation
    assert data["agent_id"] == "agent-7"
    assert data["service"] and data["event_id"] and data["stream_id"] and data["recorded_at"]
    assert len(recorded["id"]) == 16 and not recorded["id"].isdigit()
    for event in sse.of_user(user):
        assert set(event["json"]) == FIELDS
        assert event["json"]["event_type"] == event["event"]
    # Nothing said, anywhere in the stream: no content field, no text of the memory.
    text = "\n".join(sse.raw)
    assert secret not in text and "pineapple" not in text
    assert '"content"' not in text and '"statement"' not in text and '"value"' not in text
    ids = sse.ids()
    # Opaque (the stream's sequence enciphered for the tenant: a sequence counts every
    # tenant's events) and each its own.
    assert len(set(ids)) == len(ids) and all(len(i) == 16 and not i.isdigit() for i in ids)


def test_filters_on_user_and_type(stack, api, reader):
    one, two = fresh_user(), fresh_user()
    by_user = reader({"userId": one})
    by_type = reader({"type": "memory.recorded"})
    by_types = reader([("type", "memory.recorded,memory.synthesized"), ("type", "fact.extracted")])
    by_agent = reader({"agentId": "agent-" + one})
    ingest(api, one, "I play the cello on Sundays.", agentId="agent-" + one)
    ingest(api, two, "I collect vintage typewriters.")

    wanted = {"memory.recorded", "memory.synthesized"}
    eventually(lambda: wanted <= {e["event"] for e in by_user.events}, timeout=60)
    eventually(lambda: {one, two} <= {e["json"]["user_id"] for e in by_type.events}, timeout=60)
    eventually(lambda: {one, two} <= {e["json"]["user_id"] for e in by_types.events}, timeout=60)
    eventually(lambda: by_agent.events, timeout=60)
    assert all(e["json"]["user_id"] == one for e in by_user.events)
    assert all(e["event"] == "memory.recorded" for e in by_type.events)
    allowed = {"memory.recorded", "memory.synthesized", "fact.extracted"}
    assert all(e["event"] in allowed for e in by_types.events)
    assert all(e["json"]["agent_id"] == "agent-" + one for e in by_agent.events)


def test_resume_with_last_event_id_has_no_gap_and_no_repeat(stack, api, reader):
    user = fresh_user()
    first = reader({"userId": user})
    ingest(api, user, "My sister lives in Lisbon.")
    ingest(api, user, "I am allergic to peanuts.")
    eventually(lambda: len(first.events) >= 2, timeout=60)
    first.stop()
    before = first.ids()
    last = before[-1]

    ingest(api, user, "I run every Tuesday morning.")
    ingest(api, user, "My favourite colour is teal.")
    resumed = reader({"userId": user}, last_event_id=last)
    # The whole history of this user, from the start of the stream, as the reference.
    everything = reader({"userId": user, "lastEventId": "0"})

    def recorded(r: SseReader) -> int:
        return sum(e["event"] == "memory.recorded" for e in r.events)

    eventually(lambda: recorded(everything) >= 4 and recorded(resumed) >= 2, timeout=60)
    eventually(lambda: set(before) | set(resumed.ids()) == set(everything.ids()), timeout=60)
    after = resumed.ids()
    assert after and last not in after
    assert not set(before) & set(after)
    assert len(set(after)) == len(after)
    # In the order the whole history has them.
    order = everything.ids()
    assert [order.index(i) for i in after] == sorted(order.index(i) for i in after)


def test_another_tenant_never_reaches_the_stream(stack, api, reader):
    sse = reader()
    key = stack.api_key + "-other-tenant"
    other_user, ours = fresh_user(), fresh_user()
    with stack.extra_gateway(key, MNEMO_DEV_TENANT="other") as other:
        other_sse = SseReader(str(other.base_url).rstrip("/"), key)
        try:
            ingest(other, other_user, "The other tenant's secret zebra.")
            eventually(lambda: other_sse.of_user(other_user), timeout=60)
            assert all(e["json"]["tenant_id"] == "other" for e in other_sse.events)
            # An event of ours after theirs: once it arrives, theirs would have too.
            ingest(api, ours, "Our own event.")
            eventually(lambda: sse.of_user(ours), timeout=60)
            assert not sse.of_user(other_user)
            assert all(e["json"]["tenant_id"] == "e2e" for e in sse.events)
            assert not other_sse.of_user(ours)
        finally:
            other_sse.stop()


def test_heartbeats_and_bad_requests(stack, api, reader):
    sse = reader({"heartbeat": "1"})
    eventually(lambda: sse.comments.count(": ping") >= 2, timeout=30)
    assert not sse.events
    for params, headers in (
        ({"heartbeat": "0"}, {}),
        ({"heartbeat": "61"}, {}),
        ({}, {"Last-Event-ID": "nope"}),
        ({"lastEventId": "-3"}, {}),
        # A typo would filter out every event, for ever: refused.
        ({"type": "memory.recorded,memory.recordd"}, {}),
        # Naming no type filtered nothing, silently: refused as any empty list.
        ({"type": ""}, {}),
        ({"type": " , "}, {}),
    ):
        response = api.get("/v1/events/stream", params=params, headers=headers)
        assert response.status_code == 400, (params, response.text)
    response = httpx.get(f"{stack.base_url}/v1/events/stream", timeout=15)
    assert response.status_code == 401


def _sse_consumers(stack) -> int:
    async def count() -> int:
        nc = await nats.connect(stack.env["MNEMO_NATS_URL"])
        try:
            js = nc.jetstream()
            stream = stack.env["MNEMO_BUS_ROOT"].upper() + "_EVT"
            filt = f"{stack.env['MNEMO_BUS_ROOT']}.evt.e2e.>"
            infos = await js.consumers_info(stream)
            return sum(1 for i in infos if i.config.filter_subject == filt)
        finally:
            await nc.close()

    return asyncio.run(count())


def test_each_client_has_its_own_consumer_deleted_when_it_goes(stack):
    base = _sse_consumers(stack)
    clients = [SseReader(stack.base_url, stack.api_key) for _ in range(2)]
    try:
        eventually(lambda: _sse_consumers(stack) >= base + 2, timeout=60)
    finally:
        for c in clients:
            c.stop()
    # Sooner than the server would drop an idle consumer (INACTIVE_THRESHOLD): we delete it.
    # The deadline must stay below the threshold to tell the two apart; as long as it can.
    assert events_route.INACTIVE_THRESHOLD > 25
    eventually(lambda: _sse_consumers(stack) <= base, timeout=25)


async def test_a_slow_client_gets_overflow_and_resumes_with_no_gap(monkeypatch, nats_url, bus_root):
    """The stream generator on a real JetStream: a client that reads nothing while events
    pile up past its queue is told to reconnect, from the last event it was sent."""
    import nats as nats_client

    from mnemo.bus import ensure_streams
    from mnemo.contracts import Topology

    monkeypatch.setattr(events_route, "QUEUE_SIZE", 5)
    topology = Topology(root=bus_root)
    nc = await nats_client.connect(nats_url)
    js = nc.jetstream()
    try:
        await ensure_streams(js, topology)
        subject = topology.evt_subject("t", "memory.recorded")
        for seq in range(1, 31):
            envelope = {"event_id": f"e{seq}", "event_type": "memory.recorded", "data": {}}
            await js.publish(subject, json.dumps(envelope).encode())
        ids = events_route.EventIds("a secret of the gateway", "t")
        gen = events_route._follow(
            js,
            topology.evt_stream,
            topology.evt_subject("t", ">"),
            events_route.EventFilter(),
            0,  # as if Last-Event-ID: 0 — replay from the first event
            1,
            lambda: True,  # the key stands
            ids,
        )
        chunks = [await gen.__anext__()]  # ": connected"
        await asyncio.sleep(1.0)  # the client reads nothing while 30 events arrive
        async for chunk in gen:  # bounded: pings every second if nothing overflowed
            if not chunk.startswith(b": ping"):
                chunks.append(chunk)
            if chunk.startswith(b"event: overflow") or len(chunks) > 40:
                break
        await gen.aclose()
        await asyncio.gather(*events_route._closing)
    finally:
        await js.delete_stream(topology.evt_stream)
        await nc.close()
    assert chunks[0].startswith(b": connected")
    shown = [c.split(b"\n")[0].split(b": ")[1].decode() for c in chunks[1:-1]]
    seqs = [ids.sequence(i) for i in shown]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 5
    assert chunks[-1].startswith(b"event: overflow\n")
    assert json.loads(chunks[-1].split(b"data: ")[1])["lastEventId"] == shown[-1]


def test_mnemo_tail_prints_a_line_per_event(stack, api):
    user = fresh_user()
    env = {**os.environ, "MNEMO_DEV_API_KEY": stack.api_key}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnemo.runtime", "tail", "--url", stack.base_url, "--user", user],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as at a terminal: a test run started in the background (`make test &`)
        # passes SIGINT ignored to its children, and Python then never raises
        # KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: list[str] = []

    def pump_lines() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    pump = threading.Thread(target=pump_lines, daemon=True)
    pump.start()
    try:
        # tail starts with new events only: ingest until one shows (it may not be connected yet).
        def printed() -> bool:
            if not any(" memory.recorded " in line for line in lines):
                ingest(api, user, "I keep bees on my roof.")
                return False
            return True

        eventually(printed, timeout=60, every=2.0)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        pump.join(5)
    line = next(line for line in lines if " memory.recorded " in line)
    recorded_at, event_type, service, user_part, corr_part = line.split()
    assert event_type == "memory.recorded"
    assert recorded_at[:4].isdigit() and service
    assert user_part == f"user={user}" and corr_part.startswith("corr=")
    assert all(f"user={user}" in line for line in lines if line.strip())
    assert code == 0, proc.stderr.read() if proc.stderr else ""


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--key", "mk_abc\u00e9"], "printable ASCII"),
        (["--url", "not a url"], "http:// or https://"),
        (["--url", "ftp://127.0.0.1:{port}"], "http:// or https://"),
        (["--url", "http://user:pw@127.0.0.1:{port}"], "user or password"),
        (["--type", "memory.recordd"], "no event type"),
    ],
)
def test_mnemo_tail_refuses_what_no_request_can_carry(stack, args, said):
    """One line and exit 2, against a gateway that is there: not a traceback, not
    "reconnecting" for ever, not a user:password sent in place of the key (a 401)."""
    env = {**os.environ, "MNEMO_DEV_API_KEY": stack.api_key}
    argv = [a.format(port=stack.port) for a in args]
    if "--url" not in argv:
        argv += ["--url", stack.base_url]
    done = subprocess.run(
        [sys.executable, "-m", "mnemo.runtime", "tail", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("mnemo tail: ") and done.stderr.count("\n") == 1
    assert said in done.stderr and "Traceback" not in done.stderr
    assert stack.api_key not in done.stderr and "pw" not in done.stderr
