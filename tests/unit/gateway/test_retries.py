"""What fixes the ids a write makes on a retry (its Idempotency-Key) is the calling key's,
as its kept answer is: another key sending the same Idempotency-Key and the same body to
the same path (a second key of the same agent, the master key; clients that name their
writes alike, `validate-<fact>`) makes a change of its own, its actor itself, never
answered the first caller's (its validation was not recorded, though answered 200)."""

from types import SimpleNamespace

import pytest

from mnemo.gateway.auth import Principal
from mnemo.gateway.routes import facts


class _Asked(Exception):
    pass


def _request(key: str | None, body: bytes = b'{"reason": "seen it"}'):
    async def read() -> bytes:
        return body

    headers = {"idempotency-key": key} if key else {}
    path = SimpleNamespace(path="/v1/facts/f1/validate")
    return SimpleNamespace(headers=headers, body=read, method="POST", url=path)


def _key(key_id: str, tenant: str = "acme", agent: str = "bot") -> Principal:
    return Principal(
        tenant_id=tenant, actor=f"key:{key_id}", kind="agent", key_id=key_id, agent_id=agent
    )


async def _retry_key(monkeypatch, request, principal: Principal) -> str | None:
    """The retry key of the fact change `request` sends as `principal`."""
    asked = []

    async def ask(_request, _service, _name, command, *_rest):
        asked.append(command)
        raise _Asked

    monkeypatch.setattr(facts, "deps_of", lambda _request: SimpleNamespace(ask=ask))
    with pytest.raises(_Asked):
        await facts._change(request, principal, "f1", "validate", reason="seen it")
    return asked[0].retry_key


async def test_a_retry_with_the_same_key_and_body_is_the_same_change(monkeypatch):
    first = await _retry_key(monkeypatch, _request("validate-f1"), _key("k1"))
    assert first is not None
    assert await _retry_key(monkeypatch, _request("validate-f1"), _key("k1")) == first
    assert await _retry_key(monkeypatch, _request(None), _key("k1")) is None
    assert await _retry_key(monkeypatch, _request("validate-f1", b"{}"), _key("k1")) != first


async def test_another_calling_key_makes_a_change_of_its_own(monkeypatch):
    first = await _retry_key(monkeypatch, _request("validate-f1"), _key("k1"))
    # A second key of the same agent, and another tenant's key, sending the same.
    assert await _retry_key(monkeypatch, _request("validate-f1"), _key("k2")) != first
    other = _key("k1", tenant="other")
    assert await _retry_key(monkeypatch, _request("validate-f1"), other) != first
