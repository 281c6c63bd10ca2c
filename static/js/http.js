// Same-origin requests with the session cookie. Django checks CSRF on unsafe methods, for page
// views and for the API (DRF's SessionAuthentication), so every such request carries the token.

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

// Resolves to {ok, status, data}; rejects only when the server could not be reached.
export async function request(url, { method = "GET", json, form } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const response = await fetch(url, { method, headers, body, credentials: "same-origin" });
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("application/json") ? await response.json() : null;
  return { ok: response.ok, status: response.status, data };
}

// The first readable message in a DRF error body ({"detail": ...} or {"field": ["..."]}).
export function errorMessage(data, fallback) {
  if (!data || typeof data !== "object") return fallback;
  if (typeof data.detail === "string") return data.detail;
  for (const [key, value] of Object.entries(data)) {
    if (key !== "code" && Array.isArray(value) && value.length) return String(value[0]);
  }
  return fallback;
}

// A cursor-pagination "next" link, kept on this origin whatever host the server saw.
export function samePath(url) {
  if (!url) return null;
  const parsed = new URL(url, location.href);
  return parsed.pathname + parsed.search;
}
