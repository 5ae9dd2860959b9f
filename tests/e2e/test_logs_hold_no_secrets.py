"""Whatever a request does, even crash the gateway, no log line holds a key, the key-hashing
secret, an Authorization header or a word of memory content.

A suite of requests on every surface, ordinary ones and ones that fail inside the gateway
(bodies nested past any parser's depth, invalid UTF-8, metadata beyond NATS' payload), all
carrying a unique content word and real keys; then every log file of the stack is read.
"""

import asyncio
import json
import socket
import uuid

import httpx

from .test_accounts import as_key, sign_up
from .test_secret_fields import _database_text
from .waiting import eventually


def _deep(levels: int, word: str) -> str:
    """JSON text nested `levels` deep (too deep for Python's json to write)."""
    return '{"a":' * levels + json.dumps(word) + "}" * levels


def _post(client: httpx.Client, path: str, text: str) -> None:
    client.post(path, content=text.encode(), headers={"content-type": "application/json"})


def _send_everything(stack, word: str) -> list[str]:
    """Send the suite; return the keys it used."""
    with stack.client() as api:
        tenant = sign_up(api, "logs-" + uuid.uuid4().hex[:6])
        user = "user-" + uuid.uuid4().hex[:8]
        note = f"the {word} lives in the attic"
        ok = api.post("/v1/ingest", json={"userId": user, "content": note})
        assert ok.status_code == 202, ok.text
        api.get("/v1/search", params={"userId": user, "q": word})
        head = f'{{"userId": "{user}", "content": "{note}", '
        hostile = [
            head + f'"metadata": {_deep(1200, word)}}}',
            head + f'"metadata": {{"blob": "{word * 600_000}"}}}}',
            head + f'"sessionId": "{word * 200_000}"}}',
        ]
        for body in hostile:
            _post(api, "/v1/ingest", body)
            _post(api, "/v1/ingest/batch", f'{{"items": [{body}]}}')
        raw = json.dumps({"userId": user, "content": note}).encode()
        api.post("/v1/ingest", content=raw[:-2] + b"\xff\xfe" + raw[-2:])
        api.post("/v1/ingest", content=b"[" * 5000 + word.encode() + b"]" * 5000)
        api.get("/v1/search", params={"userId": user, "q": word + "\x00"})
        with as_key(stack, tenant.agent_key) as agent:
            agent.post("/v1/ingest", json={"userId": user, "content": note})
            _post(agent, "/v1/ingest", hostile[0])
            _post(
                agent,
                f"/api/agents/{tenant.agent_id}/memories",
                f'{{"content": {{"text": "{note}"}}, "metadata": {_deep(1200, word)}}}',
            )
        api.post("/api/events", json={"anima_id": word, "event_type": "system", "content": note})
        _post(api, "/api/v2/agents", f'{{"agent_id": "a", "name": {_deep(1200, word)}}}')
        with httpx.Client(base_url=stack.base_url, timeout=15) as anonymous:
            bogus = "mk_" + uuid.uuid4().hex
            anonymous.post(
                "/v1/ingest",
                json={"userId": user, "content": note},
                headers={"Authorization": f"Bearer {bogus}"},
            )
            # A key everywhere else a client may put one: other schemes and headers, a
            # cookie, the query string, an Idempotency-Key, a correlation id, a path.
            master = tenant.master
            for headers in (
                {"Authorization": f"Basic {master}"},
                {"Authorization": f"Foo {master}"},
                {"X-Api-Key": master, "Cookie": f"session={master}"},
            ):
                anonymous.post(
                    "/v1/ingest", json={"userId": user, "content": note}, headers=headers
                )
            anonymous.get(
                "/v1/search",
                params={"userId": user, "q": word, "api_key": master},
                headers={"Authorization": f"Token {master}"},
            )
            anonymous.post(
                "/v3/memories/add",
                json={"messages": [{"role": "user", "content": note}], "user_id": user},
                headers={
                    "Authorization": f"Token {master}",
                    "Idempotency-Key": master,
                    "x-correlation-id": master,
                },
            )
            anonymous.delete(f"/v1/keys/{master}", headers={"Authorization": f"Bearer {master}"})
            # Bytes that are not HTTP, and headers past the server's buffer: uvicorn refuses
            # them itself (and logs that it did).
            for raw in (
                f"G\x01T /v1/search?q={word}&k={master} HTTP/1.1\r\n\r\n".encode(),
                f"GET /v1/search HTTP/1.1\r\nHost: x\r\nX-Note: {word * 9000}\r\n"
                f"Authorization: Bearer {master}\r\n\r\n".encode(),
            ):
                with socket.create_connection(("127.0.0.1", stack.port), timeout=15) as conn:
                    conn.sendall(raw)
                    conn.recv(4096)
            anonymous.post(
                "/mcp",
                json={
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {"name": "remember", "arguments": {"content": note, "userId": 5}},
                },
                headers={"Authorization": f"Bearer {master}", "accept": "application/json"},
            )
        eventually(lambda: api.get("/v1/memories", params={"userId": user}).json()["total"] >= 1)
        with as_key(stack, tenant.master) as master_client:
            # The audit takes requests in order: once this last one is in, all are.
            last = "logs-last-" + uuid.uuid4().hex[:8]
            master_client.get(
                "/v1/memories", params={"userId": user}, headers={"x-correlation-id": last}
            )
            eventually(
                lambda: (
                    master_client.get("/v1/audit/events", params={"correlation_id": last}).json()[
                        "total"
                    ]
                    >= 1
                ),
                timeout=60,
            )
    return [tenant.master, tenant.agent_key, bogus]


def test_no_log_holds_a_key_a_secret_or_content(stack):
    word = "quokka" + uuid.uuid4().hex[:10]
    keys = _send_everything(stack, word)
    forbidden = {
        # One label per key (two mk_ keys under one label would check only the last).
        **{f"key {n} {key[:3]}…": key for n, key in enumerate(keys)},
        "the development key": stack.api_key,
        "the key-hashing secret": stack.env["MNEMO_KEY_SECRET"],
        "a content word": word,
    }
    logs = {p.name: p.read_text(errors="replace") for p in (stack.home / "logs").glob("*.log")}
    assert "gateway.log" in logs
    leaks = [
        f"{what} in {name}"
        for name, text in logs.items()
        for what, secret in forbidden.items()
        if secret in text
    ]
    assert not leaks
    for name, text in logs.items():
        assert "Bearer " not in text, f"an Authorization header in {name}"
    # Nor does any row of the database (the audit among them) hold a key.
    rows = asyncio.run(_database_text(stack.env["MNEMO_DATABASE_URL"]))
    assert [
        what for what, key in forbidden.items() if key.startswith(("mk_", "ak_")) and key in rows
    ] == []


def test_no_audit_entry_or_error_holds_a_key_put_in_a_path_or_a_correlation_id(stack):
    """A path and a correlation id are the caller's to write: a key put in a path (the key
    itself where its id belongs) is refused as an id that is a secret is, logged as its
    placeholder, never whole, and no error answer of any surface quotes it back.
    """
    with stack.client() as api:
        tenant = sign_up(api, "audit-" + uuid.uuid4().hex[:6])
    correlation = "leak-" + uuid.uuid4().hex[:10]
    with as_key(stack, tenant.master) as master:
        deleted = master.delete(
            f"/v1/keys/{tenant.agent_key}", headers={"x-correlation-id": correlation}
        )
        # Refused as any id that is a secret is (the input guard), never looked up.
        assert deleted.status_code == 400 and deleted.json()["code"] == "INVALID_ID", deleted.text
        as_id = master.get(
            "/v1/memories", params={"userId": "u"}, headers={"x-correlation-id": tenant.agent_key}
        )
        assert as_id.headers["x-correlation-id"] != tenant.agent_key

        def audited() -> list[dict]:
            answer = master.get("/v1/audit/events", params={"correlation_id": correlation})
            return [e for e in answer.json()["events"] if e["kind"] == "request"]

        for method, path in [
            ("GET", "/v1/memories/{}"),
            ("GET", "/v1/nowhere/{}"),
            ("GET", "/console/{}"),
            ("GET", "/api/animas/{}"),
            ("GET", "/api/v2/agents/{}"),
            ("GET", "/api/memory/{}/memories"),
            ("POST", "/v3/memories/{}/"),
        ]:
            answer = master.request(method, path.format(tenant.agent_key))
            assert answer.status_code >= 400 and tenant.agent_key not in answer.text, path
        assert tenant.agent_key not in deleted.text

        # Refused before it was authenticated, it is in no tenant's audit; the gateway's
        # log has it, as its placeholder.
        assert audited() == []
        gateway_log = stack.home / "logs" / "gateway.log"
        eventually(lambda: "/v1/keys/[REDACTED:mnemo_key]" in gateway_log.read_text(), timeout=60)
        # A key where an id belongs is refused, not looked up (nor stored, where it would be).
        keyed = master.get("/v1/audit/events", params={"correlation_id": tenant.agent_key})
        assert keyed.status_code == 400 and keyed.json()["code"] == "INVALID_ID", keyed.text
        assert tenant.agent_key not in keyed.text
        for body in (
            {"userId": tenant.agent_key, "content": "hello"},
            {"userId": "u", "content": "hello", "sessionId": tenant.master},
        ):
            refused = master.post("/v1/ingest", json=body)
            assert refused.status_code == 400 and refused.json()["code"] == "INVALID_ID"
            assert tenant.agent_key not in refused.text and tenant.master not in refused.text
    logs = "".join(p.read_text(errors="replace") for p in (stack.home / "logs").glob("*.log"))
    assert tenant.agent_key not in logs


def mem0_client(stack, correlation: str) -> httpx.Client:
    """A client of the Mem0 surface (its Token scheme), every call in one correlation."""
    return httpx.Client(
        base_url=stack.base_url,
        headers={"Authorization": f"Token {stack.api_key}", "x-correlation-id": correlation},
        timeout=30,
    )


def add_to_run(mem0: httpx.Client, user: str, run: str) -> None:
    body = {"messages": "I slept badly", "user_id": user, "run_id": run, "infer": False}
    added = mem0.post("/v3/memories/add/", json=body)
    assert added.status_code == 200, added.text


def test_a_mem0_runs_name_in_a_path_is_in_no_log_line_or_audit_entry(stack):
    """A Mem0 run is a session, whose name the audit never keeps (a forget erases it from
    the bus; the audit is never erased): deleting one by its name in the path
    (`DELETE /v2/entities/run/{name}/`) logs and audits the path with it withheld."""
    run = "therapy-with-dr-" + uuid.uuid4().hex[:10]
    user = "user-" + uuid.uuid4().hex[:8]
    correlation = "run-" + uuid.uuid4().hex[:10]
    with mem0_client(stack, correlation) as mem0:
        add_to_run(mem0, user, run)
        for path in (f"/v2/entities/run/{run}/", f"/mem0/v2/entities/run/{run}/"):
            deleted = mem0.delete(path)
            assert deleted.status_code == 200, deleted.text
        # Answered before any route runs: a retry replayed from its Idempotency-Key, a
        # method the path does not take, a query the input guard refuses.
        again = {"Idempotency-Key": "again-" + uuid.uuid4().hex[:8]}
        for _ in range(2):
            assert mem0.delete(f"/v2/entities/run/{run}/", headers=again).status_code == 200
        assert mem0.put(f"/v2/entities/run/{run}/").status_code == 405
        assert mem0.delete(f"/v2/entities/run/{run}/?a=1&a=2").status_code == 400
    with stack.client() as api:

        def requests() -> list[dict]:
            chain = api.get("/v1/audit/events", params={"correlation_id": correlation}).json()
            return [e for e in chain["events"] if e["data"].get("method") == "DELETE"]

        audited = eventually(lambda: len(requests()) >= 4 and requests(), timeout=60)
    assert {e["data"]["path"].rstrip("/") for e in audited} == {
        "/v2/entities/run/{withheld}",
        "/mem0/v2/entities/run/{withheld}",
    }
    gateway_log = stack.home / "logs" / "gateway.log"
    # Every request's line is written (six: two deletes, the retry twice, the 405, the 400).
    eventually(lambda: gateway_log.read_text().count("/v2/entities/run/") >= 6, timeout=30)
    logs = "".join(p.read_text(errors="replace") for p in (stack.home / "logs").glob("*.log"))
    assert run not in logs
    assert "/v2/entities/run/{withheld}/" in logs


def test_a_mem0_run_whose_name_holds_a_slash_is_deleted_by_its_name_and_never_logged(stack):
    """Mem0 takes any string as a run (or user) id and its client puts the id in the path
    as it is: `team/alpha` spans two segments, and `%2F` is decoded before routing. Such a
    run could not be deleted (404 for both), and its name was logged in the path."""
    tag = uuid.uuid4().hex[:10]  # in the runs' names only (user ids are logged)
    user = "user-" + uuid.uuid4().hex[:8]
    correlation = "slash-" + uuid.uuid4().hex[:10]
    with mem0_client(stack, correlation) as mem0:
        runs = {
            f"ward/{tag}a": f"/v2/entities/run/ward/{tag}a/",
            f"ward/{tag}b": f"/v2/entities/run/ward%2F{tag}b/",
            # The router collapses `//`: the name is read as sent.
            f"ward//{tag}c": f"/v2/entities/run/ward//{tag}c/",
        }
        for run in runs:
            add_to_run(mem0, user, run)

        def listed() -> set[str]:
            page = mem0.post("/v3/memories/", json={"filters": {"user_id": user}}).json()
            return {m["run_id"] for m in page["results"]}

        eventually(lambda: listed() == set(runs))
        for path in runs.values():
            deleted = mem0.delete(path)
            assert deleted.status_code == 200, (path, deleted.text)
            assert deleted.json()["deleted"] == 1, (path, deleted.text)
        assert listed() == set()
    with stack.client() as api:

        def requests() -> list[dict]:
            chain = api.get("/v1/audit/events", params={"correlation_id": correlation}).json()
            return [e for e in chain["events"] if e["data"].get("method") == "DELETE"]

        audited = eventually(lambda: len(requests()) == 3 and requests(), timeout=60)
    assert {e["data"]["path"].rstrip("/") for e in audited} == {"/v2/entities/run/{withheld}"}
    gateway_log = stack.home / "logs" / "gateway.log"
    eventually(lambda: gateway_log.read_text().count("/v2/entities/run/{withheld}") >= 3)
    logs = "".join(p.read_text(errors="replace") for p in (stack.home / "logs").glob("*.log"))
    assert tag not in logs
