// Memory: a user's memories, and a search playground that shows why each hit ranked: the
// chosen mode's score beside the hit's rank in a vector-only and a keyword-only search of
// the same query (three calls to POST /v1/search), and the context and memory pack an
// agent would get.
import { api, el, param, pretty, requireKey, row, showError, when } from "./api.js";

const me = requireKey();
const userForm = document.getElementById("user");
const searchForm = document.getElementById("search");
const RANKED = 50; // the most POST /v1/search answers: ranks beyond it show as "> 50"

function userId() {
  return userForm.userId.value.trim();
}

async function memories() {
  const tbody = document.querySelector("#memories tbody");
  const total = document.getElementById("memories-total");
  document.getElementById("facts-link").href = `/console/facts?userId=${encodeURIComponent(userId())}`;
  try {
    const page = await api("GET", "/v1/memories", { params: { userId: userId(), limit: 100 } });
    tbody.replaceChildren(...page.memories.map((m) => {
      const tr = row(when(m.occurredAt), when(m.createdAt), m.content, m.sourceType,
        m.agentId || "", m.sessionId || "", m.synthesized ? "yes" : "not yet");
      tr.dataset.memory = m.id;
      return tr;
    }));
    total.textContent = `${page.memories.length} of ${page.total} shown, newest first.`;
  } catch (error) {
    tbody.replaceChildren();
    showError(total, error);
  }
}

function instant(value) {
  return value ? new Date(value).toISOString() : undefined;
}

function request(mode, limit) {
  const f = searchForm;
  const filters = {
    sourceType: f.sourceType.value.trim() || undefined,
    sessionId: f.sessionId.value.trim() || undefined,
    agentId: f.agentId.value.trim() || undefined,
    asOf: instant(f.asOf.value),
    asOfKnowledge: instant(f.asOfKnowledge.value),
  };
  return api("POST", "/v1/search", {
    body: {
      userId: userId(),
      query: f.query.value,
      searchMode: mode,
      alpha: Number(f.alpha.value),
      limit,
      threshold: f.threshold.value === "" ? undefined : Number(f.threshold.value),
      filters,
    },
  });
}

function ranks(result) {
  return new Map(result.results.map((hit, i) => [hit.id, i + 1]));
}

async function search() {
  const tbody = document.querySelector("#hits tbody");
  try {
    const limit = Number(searchForm.limit.value) || 10;
    const [chosen, dense, sparse] = await Promise.all([
      request(searchForm.mode.value, limit),
      request("vector", RANKED),
      request("keyword", RANKED),
    ]);
    const d = ranks(dense);
    const s = ranks(sparse);
    tbody.replaceChildren(...chosen.results.map((hit, i) => {
      const tr = row(i + 1, hit.score.toFixed(4), d.get(hit.id) || `> ${RANKED}`,
        s.get(hit.id) || "none", hit.content, when(hit.metadata?.timestamp || hit.ingestedAt));
      tr.dataset.memory = hit.id;
      return tr;
    }));
    if (!chosen.results.length) tbody.replaceChildren(row("no hits"));
  } catch (error) {
    tbody.replaceChildren(row(error.message));
  }
  const context = document.getElementById("context");
  try {
    const params = { userId: userId(), q: searchForm.query.value };
    if (me.kind === "master" && searchForm.agentId.value.trim()) params.agentId = searchForm.agentId.value.trim();
    context.textContent = pretty(await api("GET", "/v1/context", { params }));
  } catch (error) {
    showError(context, error);
  }
}

async function pack() {
  const shown = document.getElementById("pack");
  const agent = me.kind === "agent" ? me.agentId : searchForm.agentId.value.trim();
  if (!agent) {
    shown.textContent = "(no agent named)";
    return;
  }
  try {
    const params = { userId: userId(), query: searchForm.query.value };
    shown.textContent = pretty(await api("GET", `/v1/agents/${encodeURIComponent(agent)}/packs/latest`, { params }));
  } catch (error) {
    showError(shown, error);
  }
}

searchForm.alpha.addEventListener("input", () => {
  document.getElementById("alpha-out").textContent = searchForm.alpha.value;
});
userForm.addEventListener("submit", (event) => {
  event.preventDefault();
  history.replaceState(null, "", `?userId=${encodeURIComponent(userId())}`);
  memories();
});
searchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!userId()) return showError(document.getElementById("memories-total"), "name a user first");
  search();
  pack();
});

userForm.userId.value = param("userId");
if (userId()) memories();
