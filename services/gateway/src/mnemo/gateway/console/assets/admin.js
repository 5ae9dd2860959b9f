// Admin: the tenant's agents and keys. A master key creates agents, issues keys (shown
// once) and revokes them; an agent key sees its own agent only. The rate-limit line is
// what the gateway said about this key on its last answer (X-RateLimit-*).
import { ApiError, api, el, requireKey, showError, usage, when } from "./api.js";

const me = requireKey();
const message = document.getElementById("message");
const keyForm = document.getElementById("new-key");
const agentForm = document.getElementById("new-agent");

function done(text) {
  message.classList.remove("error");
  message.textContent = text;
}

function showUsage() {
  const u = usage();
  document.getElementById("usage").textContent = u
    ? `This key's rate limit: ${u.remaining} of ${u.limit} calls left in the window (resets in ${u.reset}s).`
    : "";
}

async function agents() {
  const found = await api("GET", "/v1/agents", { params: { limit: 200 } });
  document.querySelector("#agents tbody").replaceChildren(...found.agents.map((a) =>
    el("tr", { dataset: { agent: a.id } }, el("td", {}, a.id), el("td", {}, a.name),
      el("td", {}, a.description || ""), el("td", {}, when(a.createdAt)))));
  keyForm.agentId.replaceChildren(...found.agents.map((a) => el("option", { value: a.id }, `${a.name} (${a.id})`)));
}

async function keys() {
  const note = document.getElementById("keys-note");
  if (me.kind !== "master") {
    note.textContent = "Keys are managed with a master key; this is an agent key.";
    for (const node of document.querySelectorAll(".master-only")) node.hidden = true;
    return;
  }
  const found = await api("GET", "/v1/keys", { params: { includeRevoked: "true" } });
  document.querySelector("#keys tbody").replaceChildren(...found.keys.map((k) => {
    const revoke = el("button", { type: "button", class: "danger" }, "Revoke");
    revoke.hidden = Boolean(k.revokedAt);
    // Two clicks: the first asks, the second revokes (no modal dialog to miss).
    revoke.addEventListener("click", async () => {
      if (revoke.dataset.armed !== "yes") {
        revoke.dataset.armed = "yes";
        revoke.textContent = "Click again to revoke";
        return;
      }
      try {
        await api("DELETE", `/v1/keys/${encodeURIComponent(k.id)}`);
        done(`Key ${k.prefix}… revoked.`);
        const shown = document.getElementById("issued-key");
        if (shown.dataset.keyId === k.id) document.getElementById("issued").hidden = true;
        await keys();
      } catch (error) {
        showError(message, error);
      }
    });
    return el("tr", { dataset: { key: k.id, revoked: k.revokedAt ? "yes" : "no" } },
      el("td", {}, k.id), el("td", {}, k.kind), el("td", {}, k.agentId || ""), el("td", {}, k.label || ""),
      el("td", {}, `${k.prefix}…`), el("td", {}, when(k.createdAt)), el("td", {}, when(k.lastUsedAt)),
      el("td", { class: "revoked" }, when(k.revokedAt)), el("td", {}, revoke));
  }));
}

keyForm.kind.addEventListener("change", () => {
  keyForm.agentId.disabled = keyForm.kind.value !== "agent";
});
keyForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { kind: keyForm.kind.value, label: keyForm.label.value.trim() || undefined };
  if (body.kind === "agent") body.agentId = keyForm.agentId.value;
  try {
    const issued = await api("POST", "/v1/keys", { body });
    document.getElementById("issued").hidden = false;
    const shown = document.getElementById("issued-key");
    shown.textContent = issued.key;
    shown.dataset.keyId = issued.id;
    done(`Issued ${issued.kind} key ${issued.id}.`);
    await keys();
  } catch (error) {
    showError(message, error);
  }
});
agentForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const made = await api("POST", "/v1/agents", { body: { name: agentForm.name.value.trim() } });
    agentForm.reset();
    done(`Agent ${made.id} created.`);
    await agents();
  } catch (error) {
    showError(message, error);
  }
});

(async () => {
  try {
    await agents();
    await keys();
  } catch (error) {
    showError(message, error instanceof ApiError ? error : String(error));
  }
  showUsage();
})();
