"""A secret recognisable only by the name of its field (`{"password": ...}`, at any depth) is
redacted on every surface before it is published: no write answer echoes it, no read path
returns it, and its bytes are in no file of the stack (NATS, PostgreSQL, Qdrant, logs) nor
in any row of the database."""

import asyncio
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from ..disk import found_in_files
from .waiting import eventually


class Secrets:
    """Unique secret values that no text rule would find: only their field names tell."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self, label: str) -> str:
        value = f"{label}-Tr0ub4dor&3q-{uuid.uuid4().hex[:12]}"
        self.made.append(value)
        return value


def _leaks(text: str, secrets: Secrets) -> list[str]:
    return [s for s in secrets.made if s in text]


def _ok(response: httpx.Response, status: int = 201) -> httpx.Response:
    assert response.status_code == status, response.text
    return response


@pytest.fixture
def secret() -> Secrets:
    return Secrets()


def _native(api: httpx.Client, secret: Secrets, word: str) -> tuple[list[httpx.Response], str]:
    user = "user-" + uuid.uuid4().hex[:8]
    metadata = {
        "password": secret("top"),
        "x": [{"password": secret("nested")}],
        "aws_secret_access_key": secret("aws"),
        "headers": {"X-API-Key": secret("header")},
        "credentials": {"type": "basic", "pass": secret("creds")},
        "token_count": 12,
    }
    one = _ok(
        api.post(
            "/v1/ingest", json={"userId": user, "content": f"{word} one", "metadata": metadata}
        ),
        202,
    )
    batch = {
        "items": [
            {"userId": user, "content": f"{word} two", "metadata": {"apiKey": secret("batch")}}
        ]
    }
    many = _ok(api.post("/v1/ingest/batch", json=batch), 202)
    agent = _ok(
        api.post(
            "/v1/agents", json={"name": "vault", "metadata": {"client_secret": secret("agent")}}
        )
    )
    assert agent.json()["metadata"]["client_secret"] == "[REDACTED:generic_secret]"
    return [one, many, agent], user


def _elephantasm(api: httpx.Client, secret: Secrets, word: str) -> tuple[list[httpx.Response], str]:
    anima = _ok(api.post("/api/animas", json={"name": "anima", "meta": {"token": secret("anima")}}))
    anima_id = anima.json()["id"]
    sent = api.post(
        "/api/events",
        json={
            "anima_id": anima_id,
            "event_type": "message.in",
            "content": f"{word} three",
            "summary": f"password: {secret('summary')}",
            "meta": {"session": {"refresh_token": secret("meta")}, "lang": "en"},
        },
    )
    event = _ok(sent).json()
    assert event["meta"] == {
        "session": {"refresh_token": "[REDACTED:generic_secret]"},
        "lang": "en",
    }
    assert event["summary"] == "password: [REDACTED:generic_secret]"
    return [anima, sent], anima_id


def _memanto(stack, secret: Secrets, word: str) -> tuple[list[httpx.Response], str]:
    agent = "memanto-" + uuid.uuid4().hex[:6]
    with httpx.Client(
        base_url=f"{stack.base_url}/api/v2",
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=15,
    ) as v2:
        made = _ok(v2.post("/agents", json={"agent_id": agent, "metadata": {"pwd": secret("mag")}}))
        token = {
            "X-Session-Token": _ok(v2.post(f"/agents/{agent}/activate"), 200).json()[
                "session_token"
            ]
        }
        one = v2.post(
            f"/agents/{agent}/remember",
            json={"content": f"{word} four", "metadata": {"Authorization": secret("remember")}},
            headers=token,
        )
        many = v2.post(
            f"/agents/{agent}/batch-remember",
            json={
                "memories": [{"content": f"{word} five", "metadata": {"secret": secret("mbatch")}}]
            },
            headers=token,
        )
        return [made, _ok(one), _ok(many)], agent


def _eliza(api: httpx.Client, secret: Secrets, word: str) -> tuple[list[httpx.Response], str]:
    agent = _ok(api.post("/v1/agents", json={"name": "eliza"})).json()["id"]
    entity = str(uuid.uuid4())
    memory = {
        "entityId": entity,
        "content": {"text": f"{word} six", "auth_token": secret("content")},
        "metadata": {"type": "message", "private_key": secret("eliza")},
    }
    one = _ok(api.post(f"/api/agents/{agent}/memories", json=memory))
    imported = {
        **memory,
        "content": {"text": f"{word} seven"},
        "metadata": {"passwd": secret("imp")},
    }
    many = _ok(api.post(f"/api/memory/agents/{agent}/import", json={"memories": [imported]}))
    return [one, many], agent


def _reads(stack, api: httpx.Client, users: dict[str, str], word: str) -> str:
    """Every read path's answer for the memories written, once all of them are searchable."""
    native, anima, memanto, eliza = (
        users["native"],
        users["anima"],
        users["memanto"],
        users["eliza"],
    )
    out: list[httpx.Response] = []
    for user in (native, anima, memanto):
        listed = eventually(
            lambda u=user: (
                (r := api.get("/v1/memories", params={"userId": u})).json()["total"] >= 1 and r
            )
        )
        out.append(listed)
        for memory in listed.json()["memories"]:
            out.append(api.get(f"/v1/memories/{memory['id']}"))
        hits = eventually(
            lambda u=user: (
                (r := api.get("/v1/search", params={"userId": u, "q": word})).json()["results"]
                and r
            )
        )
        out.append(hits)
    out.append(api.get("/v1/audit/events", params={"limit": 200}))
    out.append(api.get(f"/api/animas/{anima}/memory-packs/latest"))
    eliza_listed = eventually(
        lambda: (
            len((r := api.get(f"/api/agents/{eliza}/memories")).json()["data"]["memories"]) >= 2
            and r
        )
    )
    out.append(eliza_listed)
    out.append(api.get(f"/api/memory/agents/{eliza}/export"))
    out.append(api.get(f"/api/memory/agents/{eliza}/memories/search", params={"q": word}))
    out.append(api.get("/v1/agents"))
    with httpx.Client(
        base_url=f"{stack.base_url}/api/v2",
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=15,
    ) as v2:
        token = {"X-Session-Token": v2.post(f"/agents/{memanto}/activate").json()["session_token"]}
        out.append(v2.get(f"/agents/{memanto}/recall", params={"query": word}, headers=token))
        out.append(v2.get(f"/agents/{memanto}/export", headers=token))
        out.append(v2.get(f"/agents/{memanto}", headers=token))
    failed = [f"{r.request.url.path}: {r.status_code}" for r in out if r.status_code != 200]
    assert failed == []
    return "\n".join(r.text for r in out)


async def _database_text(dsn: str) -> str:
    """Every row of every table of the stack's database, as text."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        parts = []
        for row in tables:
            name = f'"{row["schemaname"]}"."{row["tablename"]}"'
            rows = await conn.fetch(f"SELECT t::text AS line FROM {name} t")
            parts += [r["line"] for r in rows]
        return "\n".join(parts)
    finally:
        await conn.close()


def _files_holding(root: Path, secrets: Secrets) -> list[str]:
    needles = [s.encode() for s in secrets.made]
    return [f"{path}: {needle.decode()}" for path, needle in found_in_files(root, needles)]


def test_secret_fields_are_redacted_on_every_surface(stack, secret, tmp_path_factory):
    word = "lighthouse" + uuid.uuid4().hex[:8]
    with stack.client() as api:
        written: list[httpx.Response] = []
        users: dict[str, str] = {}
        for name, send in (
            ("native", lambda: _native(api, secret, word)),
            ("anima", lambda: _elephantasm(api, secret, word)),
            ("memanto", lambda: _memanto(stack, secret, word)),
            ("eliza", lambda: _eliza(api, secret, word)),
        ):
            answers, users[name] = send()
            written += answers
        assert _leaks("\n".join(r.text for r in written), secret) == []
        assert _leaks(_reads(stack, api, users, word), secret) == []
    assert _leaks(asyncio.run(_database_text(stack.env["MNEMO_DATABASE_URL"])), secret) == []
    # The session's temporary folder holds the stack's MNEMO_HOME (Qdrant, logs) and, when
    # they are the embedded servers, NATS' and PostgreSQL's data directories.
    assert _files_holding(tmp_path_factory.getbasetemp(), secret) == []
