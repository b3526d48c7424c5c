// Add-feature page: "Add another extra field" without a round trip. Without JavaScript the same
// button posts the form and the server returns it with one more row.
const form = document.querySelector(".feature-form");
const button = form?.querySelector("[data-add-extra]");
const template = document.getElementById("extra-field-template");
const container = form?.querySelector("[data-extra-fields]");
const total = form?.querySelector("input[name='extra-TOTAL_FORMS']");

if (button && template && container && total) {
  button.addEventListener("click", (event) => {
    event.preventDefault();
    const index = Number.parseInt(total.value, 10) || 0;
    const html = template.innerHTML.replaceAll("__prefix__", String(index));
    container.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    container.lastElementChild?.querySelector("input[name$='-fieldKey']")?.focus();
  });
}

// A handler's parameter inputs show while it is chosen. Without JavaScript the server shows the
// chosen handler's inputs when the page comes back (after a preview, a save that failed, …).
form?.addEventListener("change", (event) => {
  const select = event.target.closest?.("[data-handler-select]");
  const cell = select?.closest("[data-handler-cell]");
  if (!cell) return;
  cell.querySelectorAll("[data-handler-params]").forEach((group) => {
    group.hidden = group.dataset.handlerParams !== select.value;
  });
});

// The request preview follows the form as it is typed: the server computes it (the same rules
// as the API) and sends back only the panel. Without JavaScript, "Update preview" does the same.
const panel = form?.querySelector("[data-preview]");
let timer;
let latest = 0;

async function refreshPreview() {
  const asked = ++latest;
  const body = new FormData(form);
  body.set("preview", "1");
  try {
    const response = await fetch(window.location.href, {
      method: "POST",
      body,
      headers: { "X-Feature-Preview": "1" },
      credentials: "same-origin",
    });
    if (asked !== latest || !response.ok) return; // an older answer, or the page's own button still works
    panel.innerHTML = await response.text();
    panel.dataset.previewFresh = String(asked);
  } catch {
    // Offline or the server is away: the panel keeps the last preview and the button stays.
  }
}

if (form && panel) {
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(refreshPreview, 300);
  };
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
}
