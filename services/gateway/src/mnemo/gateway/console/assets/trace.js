// Trace: one correlation id's causal chain from the audit API, as service lanes. A step
// sits in the lane of the service that did it, at its time since the request; the audit
// lane shows when the audit service recorded each step. Clicking a step shows its payload
// (the audit keeps what happened, never what was said; credentials are masked).
import { api, el, link, param, pretty, requireKey, row, showError, when } from "./api.js";

requireKey();
const LANES = ["gateway", "ingest", "synthesis", "retrieval", "audit"];
const form = document.getElementById("lookup");
const summary = document.getElementById("summary");
const lanes = document.getElementById("lanes");

function ms(from, to) {
  return Math.max(0, new Date(to) - new Date(from));
}

function render(chain) {
  const steps = chain.events;
  lanes.replaceChildren();
  summary.classList.remove("error");
  if (!steps.length) {
    summary.textContent = "No steps visible to this key for that correlation id.";
    return;
  }
  const start = steps[0].timestamp;
  const span = Math.max(1, ...steps.map((s) => ms(start, s.audited_at)), ...steps.map((s) => ms(start, s.timestamp)));
  const index = new Map(steps.map((s, i) => [s.message_id, i + 1]));
  const names = [...LANES, ...chain.services.filter((s) => !LANES.includes(s))];
  const counts = Object.fromEntries(names.map((n) => [n, 0]));
  for (const s of steps) {
    counts[s.service] = (counts[s.service] || 0) + 1;
    counts[s.recorded_by] = (counts[s.recorded_by] || 0) + 1;
  }
  summary.textContent = `${steps.length} steps over ${ms(start, steps.at(-1).timestamp)} ms ` +
    `(${chain.total} in all), across ${chain.services.join(", ")}.`;

  const head = el("tr", {}, el("th", {}, "#"),
    ...names.map((n) => el("th", { class: "lane", dataset: { lane: n, count: counts[n] || 0 } },
      n, el("small", {}, ` ${counts[n] || 0}`))),
    el("th", {}, "caused by"), el("th", { class: "timeline" }, `timeline (0–${span} ms)`));
  const body = el("tbody");
  steps.forEach((step, i) => {
    const tr = el("tr", { class: "step", dataset: { type: step.type, service: step.service } },
      el("td", {}, i + 1));
    for (const lane of names) {
      const td = el("td", { class: "lane-cell" });
      if (lane === step.service) td.append(marker(step.type, step.kind, ms(start, step.timestamp)));
      else if (lane === step.recorded_by) td.append(marker("recorded", "audit", ms(start, step.audited_at)));
      tr.append(td);
    }
    const cause = index.get(step.causation_id);
    const after = cause ? ms(steps[cause - 1].timestamp, step.timestamp) : null;
    tr.append(el("td", {}, cause ? `#${cause} (+${after} ms)` : step.causation_id ? "outside" : "—"));
    // From the cause to this step (the effect's latency), and a tick when audit recorded it.
    const from = cause ? ms(start, steps[cause - 1].timestamp) : ms(start, step.timestamp);
    const to = ms(start, step.timestamp);
    const segment = el("span", { class: `segment ${step.kind}` });
    segment.style.left = `${(from / span) * 100}%`;
    segment.style.width = `max(3px, ${((to - from) / span) * 100}%)`;
    const tick = el("span", { class: "tick" });
    tick.style.left = `${(ms(start, step.audited_at) / span) * 100}%`;
    tr.append(el("td", { class: "timeline" }, el("div", { class: "track" }, segment, tick)));
    const detail = el("tr", { class: "payload", hidden: true },
      el("td", { colspan: names.length + 3 },
        el("pre", { class: "json" }, pretty({
          message_id: step.message_id, kind: step.kind, type: step.type, service: step.service,
          timestamp: step.timestamp, audited_at: step.audited_at,
          causation_id: step.causation_id, subject: step.subject, data: step.data,
        }))));
    tr.addEventListener("click", () => { detail.hidden = !detail.hidden; });
    body.append(tr, detail);
  });
  lanes.append(el("table", { class: "trace" }, el("thead", {}, head), body));
}

function marker(label, kind, offset) {
  return el("div", { class: `marker ${kind}` }, el("span", {}, `+${offset} ms `), el("b", {}, label));
}

async function open(cid) {
  summary.textContent = "…";
  try {
    render(await api("GET", "/v1/audit/events", { params: { correlation_id: cid, limit: 1000 } }));
  } catch (error) {
    showError(summary, error);
  }
}

async function recent() {
  const tbody = document.querySelector("#recent tbody");
  try {
    const found = await api("GET", "/v1/audit/events", {
      params: { type: "http.request", since: new Date(Date.now() - 900_000).toISOString(), limit: 1000 },
    });
    // Writes only: the console's own reads would fill the list.
    const requests = found.events.filter((r) => r.data.method !== "GET").slice(-20).reverse();
    tbody.replaceChildren(...requests.map((r) => row(
      when(r.timestamp),
      `${r.data.method || ""} ${r.data.path || r.subject || ""} ${r.data.status || ""}`,
      r.data.actor || "",
      link(`?cid=${encodeURIComponent(r.correlation_id)}`, r.correlation_id),
    )));
  } catch (error) {
    tbody.replaceChildren(row(error.message));
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const cid = form.cid.value.trim();
  history.replaceState(null, "", `?cid=${encodeURIComponent(cid)}`);
  open(cid);
});

form.cid.value = param("cid");
if (form.cid.value) open(form.cid.value);
recent();
