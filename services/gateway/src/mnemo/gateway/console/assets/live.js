// Live: the tenant's domain events as they happen (SSE), throughput by service, and the
// stack's health with each consumer's backlog and the dead letters.
import { api, el, link, param, requireKey, row, streamEvents, when } from "./api.js";

const me = requireKey();
const form = document.getElementById("filters");
const state = document.getElementById("stream-state");
const rows = document.querySelector("#events tbody");
const KEEP = 200;
const WINDOW_MS = 60_000;
let seen = []; // [arrival ms, service] of recent events, for throughput
let stop = null;

for (const name of ["userId", "agentId", "type"]) form[name].value = param(name);
if (me.kind === "agent") {
  form.agentId.value = me.agentId;
  form.agentId.readOnly = true;
}

function setState(value, detail) {
  state.textContent = detail ? `${value}: ${detail}` : value;
  state.dataset.state = value;
}

function show(type, event, id) {
  if (type === "overflow") return;
  seen.push([Date.now(), event.service || "?"]);
  const user = event.user_id
    ? link(`/console/memory?userId=${encodeURIComponent(event.user_id)}`, event.user_id)
    : "";
  const trace = event.correlation_id
    ? link(`/console/trace?cid=${encodeURIComponent(event.correlation_id)}`, event.correlation_id)
    : "";
  const tr = row(id, when(event.recorded_at), event.event_type, event.service, user,
    event.agent_id || "", trace);
  tr.dataset.type = event.event_type;
  tr.dataset.user = event.user_id || "";
  tr.dataset.agent = event.agent_id || "";
  rows.prepend(tr);
  while (rows.children.length > KEEP) rows.lastChild.remove();
}

function connect() {
  if (stop) stop();
  rows.replaceChildren();
  setState("connecting");
  const params = {
    userId: form.userId.value.trim(),
    agentId: form.agentId.value.trim(),
    type: form.type.value.trim(),
  };
  stop = streamEvents(params, show, setState);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const query = new URLSearchParams();
  for (const name of ["userId", "agentId", "type"]) {
    if (form[name].value.trim()) query.set(name, form[name].value.trim());
  }
  history.replaceState(null, "", `?${query}`);
  connect();
});

function throughput() {
  const since = Date.now() - WINDOW_MS;
  seen = seen.filter(([at]) => at >= since);
  const counts = {};
  for (const [, service] of seen) counts[service] = (counts[service] || 0) + 1;
  const body = document.querySelector("#throughput tbody");
  const names = Object.keys(counts).sort();
  body.replaceChildren(
    ...(names.length ? names.map((n) => row(n, `${counts[n]}/min`)) : [row("no events yet", "")]),
  );
}

async function health() {
  const status = document.getElementById("health-status");
  try {
    const report = await api("GET", "/v1/health");
    status.textContent = report.status;
    status.dataset.state = report.status;
    const body = document.querySelector("#health tbody");
    body.replaceChildren(
      ...Object.entries(report.services).map(([name, s]) => {
        const checks = Object.entries(s.checks || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
        const backlog = Object.entries(s.backlog || {}).map(([k, v]) => `${k} ${v}`).join(", ");
        const tr = row(name, s.status, checks || s.error || "", backlog ? `backlog: ${backlog}` : "");
        tr.dataset.service = name;
        tr.dataset.status = s.status;
        return tr;
      }),
    );
    const dead = report.deadLetters || { total: 0, byConsumer: {} };
    document.querySelector("#dead tbody").replaceChildren(
      row("total", dead.total),
      ...Object.entries(dead.byConsumer).map(([consumer, n]) => row(consumer, n)),
    );
  } catch (error) {
    status.textContent = `unreachable: ${error.message}`;
    status.dataset.state = "down";
  }
}

connect();
health();
throughput();
setInterval(health, 5000);
setInterval(throughput, 2000);
