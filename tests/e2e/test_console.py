"""The operator console (/console) in a real browser: Debian's chromium, driven by
Playwright, against the five services. Each test signs in as an operator would, drives a
view, and checks what it shows against what the API did; each saves a screenshot (the
README's, in docs/console/, come from `MNEMO_CONSOLE_SHOTS=docs/console`). Waits are
Playwright's, with generous deadlines."""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .test_accounts import Tenant, as_key, sign_up
from .test_synthesis import say
from .waiting import eventually

CHROMIUM = "/usr/bin/chromium"
# The README's screenshots are docs/console/; a test run writes its own under the session's
# temporary folder (a run never changes the checkout) unless MNEMO_CONSOLE_SHOTS names a
# folder: `MNEMO_CONSOLE_SHOTS=docs/console make test-e2e` refreshes the README's.
SHOTS = Path(
    os.environ.get("MNEMO_CONSOLE_SHOTS") or Path(tempfile.gettempdir()) / "mnemo-console-shots"
)
WAIT = 60_000  # ms: the pipeline on a loaded machine, never a fixed sleep
# A step of an ingest's chain, and the service whose lane it is in.
DONE_BY = {
    "ingest.memory": "gateway",
    "memory.recorded": "ingest",
    "memory.synthesized": "synthesis",
    "memory.indexed": "retrieval",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which("chromium") is None:
        pytest.fail("chromium is missing: `make chromium` installs it (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, stack) -> Iterator[Page]:
    context = browser.new_context(base_url=stack.base_url, viewport={"width": 1400, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def tenant(stack) -> Tenant:
    with stack.client() as api:
        return sign_up(api, "console-" + uuid.uuid4().hex[:6])


def sign_in(page: Page, key: str) -> None:
    page.goto("/console")
    page.fill("#key", key)
    page.click("#signin button")
    page.wait_for_url("**/console/live", timeout=WAIT)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def live_row(page: Page, user: str, event_type: str, agent: str | None = None):
    selector = f'#events tbody tr[data-user="{user}"][data-type="{event_type}"]'
    if agent is not None:
        selector += f'[data-agent="{agent}"]'
    return page.locator(selector)


def test_a_bad_key_is_refused_and_a_good_one_sees_an_ingest_arrive_live(page, stack, tenant):
    page.goto("/console/live")
    page.wait_for_url("**/console?next=*", timeout=WAIT)  # no key: sign in first
    page.fill("#key", "mk_not_a_key_" + uuid.uuid4().hex)
    page.click("#signin button")
    expect(page.locator("#error")).to_contain_text("invalid or revoked", timeout=WAIT)

    sign_in(page, tenant.master)
    expect(page.locator("#who")).to_contain_text("master key")
    expect(page.locator("#stream-state")).to_have_text("live", timeout=WAIT)
    user = "live-" + uuid.uuid4().hex[:8]
    with as_key(stack, tenant.master) as api:
        sent = api.post("/v1/ingest", json={"userId": user, "content": "I grow tomatoes"})
        assert sent.status_code == 202, sent.text
    arrived = live_row(page, user, "memory.recorded")
    expect(arrived).to_have_count(1, timeout=WAIT)
    expect(arrived).to_contain_text(sent.headers["x-correlation-id"])
    # What synthesis derived from it follows on the same stream.
    expect(live_row(page, user, "memory.synthesized")).to_have_count(1, timeout=WAIT)
    for service in ("gateway", "ingest", "synthesis", "retrieval", "audit"):
        expect(page.locator(f'#health tr[data-service="{service}"]')).to_have_attribute(
            "data-status", "ok", timeout=WAIT
        )
    # The stream shows what happened, never what was said.
    assert "tomatoes" not in page.content()
    expect(page.locator("#throughput")).to_contain_text("/min", timeout=WAIT)
    shot(page, "live")

    # Filtered by another user, the same kind of event does not show.
    page.fill('#filters input[name="userId"]', "somebody-else")
    page.click("#filters button")
    expect(page.locator("#stream-state")).to_have_text("live", timeout=WAIT)
    with as_key(stack, tenant.master) as api:
        api.post("/v1/ingest", json={"userId": "somebody-else", "content": "x"})
        api.post("/v1/ingest", json={"userId": user, "content": "I grow basil"})
    expect(live_row(page, "somebody-else", "memory.recorded")).to_have_count(1, timeout=WAIT)
    expect(live_row(page, user, "memory.recorded")).to_have_count(0)


def test_a_trace_shows_the_chain_across_all_five_services(page, stack, tenant):
    user = "trace-" + uuid.uuid4().hex[:8]
    correlation = "console-" + uuid.uuid4().hex
    with as_key(stack, tenant.master) as api:
        sent = api.post(
            "/v1/ingest",
            json={
                "userId": user,
                "content": "I work at Umbrella and my key is mk_live_abcdef123456",
            },
            headers={"x-correlation-id": correlation},
        )
        assert sent.status_code == 202, sent.text
        wanted = {"http.request", "ingest.memory", "memory.recorded", "memory.indexed"}
        eventually(
            lambda: (
                wanted | {"memory.synthesized"}
                <= {
                    e["type"]
                    for e in api.get(
                        "/v1/audit/events", params={"correlation_id": correlation}
                    ).json()["events"]
                }
            ),
            timeout=WAIT / 1000,
        )
    sign_in(page, tenant.master)
    page.goto(f"/console/trace?cid={correlation}")
    for lane in ("gateway", "ingest", "synthesis", "retrieval", "audit"):
        header = page.locator(f'th.lane[data-lane="{lane}"]')
        expect(header).to_be_visible(timeout=WAIT)
        assert int(header.get_attribute("data-count") or 0) > 0, lane
    steps = page.locator("tr.step")
    expect(steps.first).to_have_attribute("data-type", "http.request", timeout=WAIT)
    for step_type, service in DONE_BY.items():
        expect(page.locator(f'tr.step[data-type="{step_type}"]').first).to_have_attribute(
            "data-service", service
        )
    recorded = page.locator('tr.step[data-type="memory.recorded"]').first
    recorded.click()
    payload = page.locator("tr.payload:not([hidden]) pre")
    expect(payload).to_contain_text('"type": "memory.recorded"', timeout=WAIT)
    text = payload.inner_text()
    assert "Umbrella" not in text and "abcdef123456" not in text  # no content, no secret
    shot(page, "trace")


def test_the_as_of_slider_shows_the_old_fact_and_a_fact_is_validated(page, stack, tenant):
    user = "facts-" + uuid.uuid4().hex[:8]
    token = uuid.uuid4().hex[:6]
    old, new = f"Works at Initrode{token}", f"Works at Globex{token}"
    with as_key(stack, tenant.master) as api:
        say(api, user, f"I work at Initrode{token} as a data analyst.", "2026-03-01T09:00:00Z")
        eventually(lambda: _statements(api, user) >= {old}, timeout=WAIT / 1000)
        say(api, user, f"Big news: I just joined Globex{token}!", "2026-06-01T09:00:00Z")
        eventually(lambda: new in _statements(api, user), timeout=WAIT / 1000)
    sign_in(page, tenant.master)
    page.goto(f"/console/facts?userId={user}")
    expect(page.locator(f'#facts tr[data-statement="{new}"]')).to_be_visible(timeout=WAIT)
    expect(page.locator(f'#facts tr[data-statement="{old}"]')).to_have_count(0)

    april = int(datetime(2026, 4, 1, tzinfo=UTC).timestamp())
    page.locator("#as-of").fill(str(april))
    expect(page.locator(f'#facts tr[data-statement="{old}"]')).to_be_visible(timeout=WAIT)
    expect(page.locator(f'#facts tr[data-statement="{new}"]')).to_have_count(0)
    expect(page.locator("#facts-title")).to_contain_text("2026-04-01")
    shot(page, "facts")

    page.locator("#as-of").fill(page.locator("#as-of").get_attribute("max") or "")
    current = page.locator(f'#facts tr[data-statement="{new}"]')
    expect(current).to_be_visible(timeout=WAIT)
    current.get_by_role("button", name="Validate").click()
    expect(page.locator(f'#facts tr[data-statement="{new}"]')).to_contain_text(
        "validated", timeout=WAIT
    )
    with as_key(stack, tenant.master) as api:
        [fact] = [f for f in _facts(api, user) if f["statement"] == new]
        assert fact["validated"] is True

    # Supersede one fact with typed content, contradict another, from their rows.
    role = page.locator('#facts tr[data-statement="Works as a data analyst"]')
    role.locator("input").fill(f"Works as a data scientist {token}")
    role.get_by_role("button", name="Supersede").click()
    expect(
        page.locator(f'#facts tr[data-statement="Works as a data scientist {token}"]')
    ).to_be_visible(timeout=WAIT)
    expect(page.locator('#facts tr[data-statement="Works as a data analyst"]')).to_have_count(0)
    page.locator(f'#facts tr[data-statement="{new}"]').get_by_role(
        "button", name="Contradict"
    ).click()
    expect(page.locator(f'#facts tr[data-statement="{new}"]')).to_contain_text(
        "contradicted", timeout=WAIT
    )
    with as_key(stack, tenant.master) as api:
        now = {f["statement"]: f for f in _facts(api, user)}
        assert "Works as a data analyst" not in now and now[new]["contradicted"] is True


def _facts(api, user: str, **params) -> list[dict]:
    response = api.get("/v1/facts", params={"userId": user, **params})
    assert response.status_code == 200, response.text
    return response.json()["facts"]


def _statements(api, user: str) -> set[str]:
    return {f["statement"] for f in _facts(api, user)}


def test_the_memory_view_lists_a_users_memories_and_says_why_each_hit_ranked(page, stack, tenant):
    user = "mem-" + uuid.uuid4().hex[:8]
    said = [
        "I drink green tea every morning",
        "My sister lives in Lisbon",
        "Tea with lemon, never milk",
    ]
    with as_key(stack, tenant.master) as api:
        for content in said:
            assert (
                api.post("/v1/ingest", json={"userId": user, "content": content}).status_code == 202
            )
        eventually(
            lambda: api.get("/v1/memories", params={"userId": user}).json()["total"] == 3,
            timeout=WAIT / 1000,
        )
        # Dense vectors come a moment after a memory is searchable by keyword: wait for
        # them, so the console's search and this one see the same index.
        eventually(
            lambda: (
                len(
                    api.post(
                        "/v1/search", json={"userId": user, "query": "tea", "searchMode": "vector"}
                    ).json()["results"]
                )
                == 3
            ),
            timeout=WAIT / 1000,
        )
        expected = api.post(
            "/v1/search", json={"userId": user, "query": "tea", "searchMode": "hybrid"}
        ).json()["results"]
    sign_in(page, tenant.master)
    page.goto(f"/console/memory?userId={user}")
    expect(page.locator("#memories tbody tr")).to_have_count(3, timeout=WAIT)
    page.fill('#search input[name="query"]', "tea")
    page.click("#search button")
    hits = page.locator("#hits tbody tr")
    expect(hits).to_have_count(len(expected), timeout=WAIT)
    # The console's order is the API's, and each hit says where the keyword side ranked it.
    assert [hits.nth(i).get_attribute("data-memory") for i in range(len(expected))] == [
        hit["id"] for hit in expected
    ]
    top = hits.first.locator("td")
    assert float(top.nth(1).inner_text()) == pytest.approx(expected[0]["score"], abs=1e-4)
    assert top.nth(2).inner_text().isdigit() or top.nth(2).inner_text() == "> 50"
    assert top.nth(3).inner_text().isdigit()  # "tea" is a word of every tea memory
    expect(page.locator("#context")).to_contain_text("tea", timeout=WAIT)
    shot(page, "memory")


def test_a_key_issued_and_revoked_from_the_console_stops_working(page, stack, tenant):
    sign_in(page, tenant.master)
    page.goto("/console/admin")
    expect(page.locator(f'#agents tr[data-agent="{tenant.agent_id}"]')).to_be_visible(timeout=WAIT)
    page.select_option('#new-key select[name="agentId"]', tenant.agent_id)
    page.fill('#new-key input[name="label"]', "console test")
    page.click("#new-key button")
    issued = page.locator("#issued-key")
    expect(issued).to_contain_text("ak_", timeout=WAIT)
    key, key_id = issued.inner_text().strip(), issued.get_attribute("data-key-id")
    with as_key(stack, key) as holder:
        assert holder.get("/v1/agents").status_code == 200

    row = page.locator(f'#keys tr[data-key="{key_id}"]')
    expect(row).to_have_attribute("data-revoked", "no", timeout=WAIT)
    row.get_by_role("button").click()
    row.get_by_role("button", name="Click again to revoke").click()
    expect(page.locator(f'#keys tr[data-key="{key_id}"]')).to_have_attribute(
        "data-revoked", "yes", timeout=WAIT
    )
    expect(page.locator("#issued")).to_be_hidden()  # the revoked key is shown no more
    shot(page, "admin")
    with as_key(stack, key) as holder:
        eventually(lambda: holder.get("/v1/agents").status_code == 401, timeout=WAIT / 1000)

    # Signed in with the revoked key, the console refuses it.
    page.evaluate("sessionStorage.clear()")
    page.goto("/console")
    page.fill("#key", key)
    page.click("#signin button")
    expect(page.locator("#error")).to_contain_text("invalid or revoked", timeout=WAIT)


def test_an_agent_key_sees_only_its_own_agent_through_the_console(page, stack, tenant):
    user = "iso-" + uuid.uuid4().hex[:8]
    token = uuid.uuid4().hex[:8]
    with as_key(stack, tenant.master) as admin:
        other = admin.post("/v1/agents", json={"name": "second " + token}).json()
        other_key = admin.post("/v1/keys", json={"kind": "agent", "agentId": other["id"]}).json()
    sign_in(page, other_key["key"])
    expect(page.locator("#who")).to_contain_text(f"agent key · {other['id']}")
    expect(page.locator("#stream-state")).to_have_text("live", timeout=WAIT)

    first_secret = f"the first agent's plan {token}"
    with as_key(stack, tenant.agent_key) as first:
        sent = first.post("/v1/ingest", json={"userId": user, "content": first_secret})
        assert sent.status_code == 202
    with as_key(stack, tenant.master) as admin:
        # Recorded (so published to the stream) before the second agent's memory is sent:
        # the stream is ordered, so the first would show before the second if it could.
        eventually(
            lambda: admin.get("/v1/memories", params={"userId": user}).json()["total"] == 1,
            timeout=WAIT / 1000,
        )
    with as_key(stack, other_key["key"]) as second:
        assert (
            second.post("/v1/ingest", json={"userId": user, "content": "my own note"}).status_code
            == 202
        )
    expect(live_row(page, user, "memory.recorded", other["id"])).to_have_count(1, timeout=WAIT)
    expect(live_row(page, user, "memory.recorded", tenant.agent_id)).to_have_count(0)
    expect(page.locator(f'#events tbody tr[data-agent="{tenant.agent_id}"]')).to_have_count(0)
    # The live row comes from the event stream; the page lists what retrieval has recorded,
    # once, when it loads: wait until the memory is listed before loading it.
    with as_key(stack, other_key["key"]) as second:
        eventually(
            lambda: second.get("/v1/memories", params={"userId": user}).json()["total"] == 1,
            timeout=WAIT / 1000,
        )

    page.goto(f"/console/memory?userId={user}")
    expect(page.locator("#memories tbody")).to_contain_text("my own note", timeout=WAIT)
    expect(page.locator("#memories tbody tr")).to_have_count(1)
    assert first_secret not in page.content()
    page.fill('#search input[name="query"]', "plan")
    page.click("#search button")
    expect(page.locator("#hits tbody")).not_to_be_empty(timeout=WAIT)
    expect(page.locator("#context")).not_to_be_empty(timeout=WAIT)
    expect(page.locator("#pack")).to_contain_text(f'"agentId": "{other["id"]}"', timeout=WAIT)
    assert first_secret not in page.content()
    shot(page, "agent-key")

    page.goto(f"/console/trace?cid={sent.headers['x-correlation-id']}")
    expect(page.locator("#summary")).to_contain_text("No steps visible", timeout=WAIT)

    page.goto("/console/admin")
    expect(page.locator(f'#agents tr[data-agent="{other["id"]}"]')).to_be_visible(timeout=WAIT)
    expect(page.locator("#agents tbody tr")).to_have_count(1)
    expect(page.locator("#keys-note")).to_contain_text("master key")
    expect(page.locator("#new-key")).to_be_hidden()
    expect(page.locator("#keys")).to_be_hidden()
