// CSRF token for fetch calls: the form's own hidden input, else Django's csrftoken cookie.
export function csrfToken(form) {
  const input = (form || document).querySelector("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// JSON request to the app's own API. Resolves to {status, body}; body is null when not JSON.
export async function requestJSON(url, { method = "GET", form } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken(form);
  const response = await fetch(url, { method, headers, credentials: "same-origin" });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, body };
}
