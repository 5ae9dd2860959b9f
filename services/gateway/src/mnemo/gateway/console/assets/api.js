// What every console view shares: the signed-in key, calls to the public API, the event
// stream, and DOM helpers that only ever set text (a memory's content is never markup).

const KEY = "mnemo.console.key";
const WHO = "mnemo.console.who";
const USAGE = "mnemo.console.usage";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function key() {
  return sessionStorage.getItem(KEY);
}

export function who() {
  return JSON.parse(sessionStorage.getItem(WHO) || "null");
}

export function signIn(value, identity) {
  sessionStorage.setItem(KEY, value);
  sessionStorage.setItem(WHO, JSON.stringify(identity));
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(WHO);
  const next = location.pathname + location.search;
  location.assign("/console?next=" + encodeURIComponent(next));
}

// The view's start: no key, back to the sign-in page; else show who is signed in.
export function requireKey() {
  if (!key()) {
    signOut();
    throw new Error("not signed in");
  }
  const me = who() || {};
  const badge = document.getElementById("who");
  const label = me.kind === "agent" ? `agent key · ${me.agentId}` : "master key";
  badge.replaceChildren(el("span", {}, label + " "), el("button", { type: "button" }, "Sign out"));
  badge.querySelector("button").addEventListener("click", signOut);
  return me;
}

function url(path, params) {
  const u = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) u.searchParams.append(name, one);
  }
  return u;
}

// One call with the Bearer key. A 2xx (or a health 503, which has a body) answers its
// JSON; a 401 signs out (the key was revoked or mistyped); anything else throws ApiError.
export async function api(method, path, { params, body, signal, keyOverride } = {}) {
  const headers = { Authorization: `Bearer ${keyOverride || key()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url(path, params), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  noteUsage(response);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (response.ok || (response.status === 503 && path === "/v1/health")) return data;
  if (response.status === 401 && !keyOverride) signOut();
  throw new ApiError(response.status, data);
}

function noteUsage(response) {
  const limit = response.headers.get("x-ratelimit-limit");
  if (limit === null) return;
  sessionStorage.setItem(
    USAGE,
    JSON.stringify({
      limit,
      remaining: response.headers.get("x-ratelimit-remaining"),
      reset: response.headers.get("x-ratelimit-reset"),
    }),
  );
}

export function usage() {
  return JSON.parse(sessionStorage.getItem(USAGE) || "null");
}

// Server-Sent Events through fetch (EventSource cannot send an Authorization header).
// Calls onEvent(type, data, id) per event and onState("live" | "reconnecting" | "closed");
// resumes after a drop with Last-Event-ID, so nothing is lost or repeated.
export function streamEvents(params, onEvent, onState) {
  const stop = new AbortController();
  let lastId = null;
  async function once() {
    const headers = { Authorization: `Bearer ${key()}` };
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    const response = await fetch(url("/v1/events/stream", params), {
      headers,
      signal: stop.signal,
    });
    if (!response.ok) {
      if (response.status === 401) signOut();
      const problem = await response.json().catch(() => null);
      throw new ApiError(response.status, problem);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const fields = { data: [] };
        for (const line of block.split("\n")) {
          if (line === ": connected") onState("live");
          if (line.startsWith(":")) continue;
          const at = line.indexOf(":");
          const name = at < 0 ? line : line.slice(0, at);
          const content = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
          if (name === "data") fields.data.push(content);
          else fields[name] = content;
        }
        if (fields.id !== undefined) lastId = fields.id;
        if (fields.data.length) onEvent(fields.event || "message", JSON.parse(fields.data.join("\n")), fields.id);
      }
    }
  }
  (async () => {
    while (!stop.signal.aborted) {
      try {
        await once();
      } catch (error) {
        if (stop.signal.aborted) break;
        if (error instanceof ApiError && error.status < 500) {
          onState("closed", error.message);
          return;
        }
      }
      if (stop.signal.aborted) break;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    // Stopped by its owner (a new filter, say): the state is the next stream's to tell.
  })();
  return () => stop.abort();
}

// An element with attributes and children; strings become text nodes, never HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function row(...cells) {
  return el("tr", {}, ...cells.map((c) => el("td", {}, c)));
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// Values that look like credentials are masked in anything the console prints, should
// one ever reach a payload (the gateway redacts secrets before anything is recorded).
const SECRET_NAMES = /^(key|api_?key|apikey|token|secret|password|authorization|session_token)$/i;
const SECRET_VALUES = /\b(mk|ak)_[A-Za-z0-9_-]{8,}/g;

export function masked(value) {
  return JSON.parse(
    JSON.stringify(value, (name, v) => {
      if (SECRET_NAMES.test(name) && v !== null && typeof v !== "object") return "•••";
      return typeof v === "string" ? v.replace(SECRET_VALUES, "$1_•••") : v;
    }),
  );
}

export function pretty(value) {
  return JSON.stringify(masked(value), null, 2);
}

export function link(href, text) {
  return el("a", { href }, text);
}

export function param(name) {
  return new URLSearchParams(location.search).get(name) || "";
}

export function showError(target, error) {
  target.textContent = error instanceof Error ? error.message : String(error);
  target.classList.add("error");
}
