// Toasts: outcomes rendered by the server (Django messages) and live ones from scripts.
const DISMISS_AFTER_MS = 6000;

function region() {
  return document.getElementById("toasts");
}

function dismiss(toast) {
  toast.classList.add("is-leaving");
  setTimeout(() => toast.remove(), 250);
}

function decorate(toast) {
  const text = document.createElement("span");
  text.className = "toast-text";
  text.append(...toast.childNodes);
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.setAttribute("aria-label", "Dismiss notification");
  close.textContent = "×";
  close.addEventListener("click", () => dismiss(toast));
  toast.append(text, close);
  // Errors stay until dismissed: they may need reading twice.
  if (!toast.classList.contains("toast-error")) setTimeout(() => dismiss(toast), DISMISS_AFTER_MS);
}

export function showToast(message, level = "info") {
  const container = region();
  if (!container) return;
  const toast = document.createElement("div");
  toast.className = `toast toast-${level}`;
  toast.textContent = message;
  container.append(toast);
  decorate(toast);
}

export function enhanceToasts() {
  region()?.querySelectorAll(".toast").forEach(decorate);
}
