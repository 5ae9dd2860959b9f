// Sign in: check the key against the API, learn whether it is a master or an agent key.
import { ApiError, api, param, signIn } from "./api.js";

const form = document.getElementById("signin");
const error = document.getElementById("error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = form.key.value.trim();
  error.textContent = "";
  try {
    // A master key may list keys; an agent key is refused (403); a bad key is 401.
    let identity;
    try {
      await api("GET", "/v1/keys", { keyOverride: value });
      identity = { kind: "master" };
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 403) throw e;
      const own = await api("GET", "/v1/agents", { keyOverride: value });
      identity = { kind: "agent", agentId: own.agents[0].id };
    }
    signIn(value, identity);
    const next = param("next");
    location.assign(next.startsWith("/console/") ? next : "/console/live");
  } catch (e) {
    error.textContent =
      e instanceof ApiError && e.status === 401 ? "That key is invalid or revoked." : e.message;
  }
});
