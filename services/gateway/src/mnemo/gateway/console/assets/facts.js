// Facts over time: a user's facts on two time axes (valid time across, knowledge time up),
// sliders for asOf and asOfKnowledge that ask GET /v1/facts what held then as known then,
// and validate / supersede / contradict on each fact.
import { api, el, param, requireKey, showError, when } from "./api.js";

requireKey();
const form = document.getElementById("user");
const asOf = document.getElementById("as-of");
const asOfKnowledge = document.getElementById("as-of-knowledge");
const message = document.getElementById("message");
const SVG = "http://www.w3.org/2000/svg";
const DAY = 86400;
let versions = []; // every fact the user ever had (holding or ended)

const userId = () => form.userId.value.trim();
const seconds = (iso) => Math.floor(new Date(iso).getTime() / 1000);
const now = () => Math.floor(Date.now() / 1000);

// A slider at its right end means "now": no parameter.
function chosen(slider) {
  if (Number(slider.value) >= Number(slider.max)) return undefined;
  return new Date(Number(slider.value) * 1000).toISOString();
}

function label() {
  for (const [slider, out] of [[asOf, "as-of-out"], [asOfKnowledge, "as-of-knowledge-out"]]) {
    const value = chosen(slider);
    document.getElementById(out).textContent = value ? when(value) : "now";
  }
}

async function load() {
  message.textContent = "";
  try {
    // Every fact that ever changed, holding or ended: the chart's rows and the sliders' range.
    const since = "1970-01-01T00:00:00Z";
    const all = await api("GET", "/v1/facts", { params: { userId: userId(), changedSince: since } });
    versions = all.facts;
    const valid = versions.map((f) => seconds(f.validFrom));
    const known = versions.map((f) => seconds(f.recordedAt));
    asOf.min = String(Math.min(now() - DAY, ...valid) - DAY);
    asOfKnowledge.min = String(Math.min(now() - 60, ...known) - 60);
    for (const slider of [asOf, asOfKnowledge]) {
      slider.max = String(now());
      slider.value = slider.max;
    }
    label();
    await holding();
  } catch (error) {
    showError(message, error);
  }
}

async function holding() {
  const params = { userId: userId(), asOf: chosen(asOf), asOfKnowledge: chosen(asOfKnowledge) };
  const title = document.getElementById("facts-title");
  title.textContent = `Facts holding ${params.asOf ? "at " + when(params.asOf) : "now"}` +
    `${params.asOfKnowledge ? ", as known at " + when(params.asOfKnowledge) : ""}`;
  try {
    const found = await api("GET", "/v1/facts", { params });
    table(found.facts);
  } catch (error) {
    showError(message, error);
  }
  chart();
}

function table(facts) {
  const tbody = document.querySelector("#facts tbody");
  tbody.replaceChildren(...facts.map((f) => {
    const flags = [f.status, f.validated && "validated", f.contradicted && "contradicted"].filter(Boolean);
    const tr = el("tr", { dataset: { statement: f.statement, fact: f.id } },
      el("td", {}, f.statement), el("td", {}, f.attribute), el("td", {}, f.value),
      el("td", {}, when(f.validFrom)), el("td", {}, when(f.validTo)), el("td", {}, when(f.recordedAt)),
      el("td", {}, flags.join(", ")), el("td", {}, f.confidence.toFixed(2)), actions(f));
    return tr;
  }));
  if (!facts.length) tbody.replaceChildren(el("tr", {}, el("td", { colspan: 9 }, "no facts then")));
}

// Validate needs nothing; supersede needs the new content; contradict takes it if given
// (a contradicting fact kept beside this one) or flags this one alone.
function actions(fact) {
  const text = el("input", { placeholder: "new content (supersede, contradict)", size: 28 });
  async function change(kind, body) {
    try {
      await api("POST", `/v1/facts/${encodeURIComponent(fact.id)}/${kind}`, { body });
      message.classList.remove("error");
      message.textContent = `${kind}: done for "${fact.statement}"`;
      await load();
    } catch (error) {
      showError(message, error);
    }
  }
  const content = () => text.value.trim();
  const supersede = () =>
    content() ? change("supersede", { content: content() }) : showError(message, "type the new content first");
  const contradict = () => change("contradict", content() ? { content: content() } : undefined);
  return el("td", { class: "actions" },
    el("button", { type: "button", onclick: () => change("validate") }, "Validate"),
    text,
    el("button", { type: "button", onclick: supersede }, "Supersede"),
    el("button", { type: "button", onclick: contradict }, "Contradict"));
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text) node.textContent = text;
  return node;
}

// Valid time across; knowledge up: one row per fact, in the order Mnemo learned them (its
// learned time at the left), so facts learned moments apart stay readable. The asOf line is
// a valid time; the asOfKnowledge line lies above every fact learned by then.
function chart() {
  const box = document.getElementById("chart");
  const rows = [...versions].sort((a, b) => seconds(a.recordedAt) - seconds(b.recordedAt));
  const ROW = 26, L = 150, R = 10, T = 24, B = 28, W = 1000;
  const H = T + B + ROW * Math.max(2, rows.length);
  box.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const x0 = Number(asOf.min), x1 = Number(asOf.max);
  const x = (t) => L + ((Math.min(Math.max(t, x0), x1) - x0) / Math.max(1, x1 - x0)) * (W - L - R);
  const y = (i) => H - B - ROW * (i + 0.5);
  const parts = [svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }),
    svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }),
    svg("text", { x: 4, y: T + 10, class: "tick" }, "learned ↑"),
    svg("text", { x: W - R, y: H - 4, class: "tick end" }, "valid time →")];
  for (let i = 0; i < 4; i++) {
    const t = x0 + ((x1 - x0) * i) / 4;
    parts.push(svg("text", { x: x(t), y: H - 12, class: "tick" }, when(new Date(t * 1000).toISOString()).slice(0, 10)));
  }
  rows.forEach((f, i) => {
    const start = seconds(f.validFrom), end = f.validTo ? seconds(f.validTo) : x1;
    const cls = f.contradicted ? "contradicted" : f.validTo || f.status !== "current" ? "ended" : "current";
    parts.push(
      svg("text", { x: 4, y: y(i) + 4, class: "tick" }, when(f.recordedAt)),
      svg("line", { x1: x(start), y1: y(i), x2: Math.max(x(start) + 3, x(end)), y2: y(i), class: `fact ${cls}` }),
      svg("text", { x: x(start) + 4, y: y(i) - 6, class: "fact-label" }, f.statement));
  });
  const known = rows.filter((f) => seconds(f.recordedAt) <= Number(asOfKnowledge.value)).length;
  const knownY = H - B - ROW * known;
  parts.push(svg("line", { x1: x(Number(asOf.value)), y1: T, x2: x(Number(asOf.value)), y2: H - B, class: "cursor" }),
    svg("line", { x1: L, y1: knownY, x2: W - R, y2: knownY, class: "cursor" }));
  box.replaceChildren(...parts);
}

for (const slider of [asOf, asOfKnowledge]) {
  slider.addEventListener("input", () => { label(); chart(); });
  slider.addEventListener("change", holding);
}
form.addEventListener("submit", (event) => {
  event.preventDefault();
  window.history.replaceState(null, "", `?userId=${encodeURIComponent(userId())}`);
  load();
});
form.userId.value = param("userId");
if (userId()) load();
