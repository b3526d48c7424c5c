// The wizard's configure step: show/hide for secrets, showWhen fields, inline validation.
// Without this module the form still works: every field is shown with an "only needed when" note
// and the server reports problems next to their fields.

function fieldValue(form, name) {
  const control = form.elements.namedItem(name);
  if (!control) return "";
  if (control instanceof RadioNodeList) return control.value;
  if (control.type === "checkbox") return control.checked ? "true" : "false";
  return control.value;
}

function controlsOf(wrapper) {
  return wrapper.querySelectorAll("input, select, textarea");
}

function enhanceSecretToggles(form) {
  form.querySelectorAll("[data-secret-toggle]").forEach((button) => {
    const input = document.getElementById(button.dataset.secretToggle);
    if (!input) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      const showing = input.type === "text";
      input.type = showing ? "password" : "text";
      button.textContent = showing ? "Show" : "Hide";
      button.setAttribute("aria-pressed", String(!showing));
      button.setAttribute("aria-label", `${showing ? "Show" : "Hide"} ${labelOf(input)}`);
    });
    button.setAttribute("aria-label", `Show ${labelOf(input)}`);
  });
}

function applyConditions(form) {
  form.querySelectorAll("[data-show-when]").forEach((wrapper) => {
    const shown = fieldValue(form, wrapper.dataset.showWhen) === wrapper.dataset.showValue;
    wrapper.hidden = !shown;
    // Hidden inputs are disabled: not validated, not submitted (the server would refuse them).
    controlsOf(wrapper).forEach((control) => {
      control.disabled = !shown;
      control.required = shown && wrapper.hasAttribute("data-required-when-shown");
    });
  });
}

function enhanceConditions(form) {
  const wrappers = form.querySelectorAll("[data-show-when]");
  if (!wrappers.length) return;
  // The page says when each conditional field applies; with fields appearing live that note is noise.
  form.querySelectorAll("[data-show-when-note]").forEach((note) => (note.hidden = true));
  const keys = new Set([...wrappers].map((wrapper) => wrapper.dataset.showWhen));
  keys.forEach((key) => {
    const control = form.elements.namedItem(key);
    const controls = control instanceof RadioNodeList ? [...control] : [control];
    controls.filter(Boolean).forEach((c) => {
      c.addEventListener("change", () => applyConditions(form));
      c.addEventListener("input", () => applyConditions(form));
    });
  });
  applyConditions(form);
}

function labelOf(control) {
  return control.closest("[data-label]")?.dataset.label || control.labels?.[0]?.textContent.trim() || control.name;
}

function messageFor(control) {
  const label = labelOf(control);
  const validity = control.validity;
  if (validity.valueMissing) return `${label} is required`;
  if (validity.typeMismatch && control.type === "url") return `${label} must be a valid URL`;
  if (validity.typeMismatch && control.type === "email") return `${label} must be a valid email address`;
  if (validity.patternMismatch) return `${label} ${control.dataset.patternMessage || "does not have the expected format"}`;
  if (validity.tooShort) return `${label} must be at least ${control.minLength} characters`;
  if (validity.tooLong) return `${label} must be at most ${control.maxLength} characters`;
  if (validity.badInput || validity.stepMismatch) return `${label} must be a number`;
  return `${label}: ${control.validationMessage}`;
}

function setFieldErrors(control, messages) {
  const wrapper = control.closest(".field");
  const list = wrapper?.querySelector(".field-errors");
  if (!list) return;
  list.replaceChildren(
    ...messages.map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }),
  );
  wrapper.classList.toggle("has-error", messages.length > 0);
  if (messages.length) control.setAttribute("aria-invalid", "true");
  else control.removeAttribute("aria-invalid");
}

function showSummary(form, problems) {
  let summary = document.querySelector("[data-error-summary]");
  if (!summary) {
    summary = document.createElement("div");
    summary.className = "error-summary";
    summary.setAttribute("role", "alert");
    summary.tabIndex = -1;
    summary.dataset.errorSummary = "";
    form.before(summary);
  }
  const heading = document.createElement("h2");
  heading.textContent = `Please fix ${problems.length} problem${problems.length === 1 ? "" : "s"}`;
  const list = document.createElement("ul");
  problems.forEach(({ control, message }) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `#${control.id}`;
    link.textContent = message;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      control.focus();
    });
    item.append(link);
    list.append(item);
  });
  summary.replaceChildren(heading, list);
  summary.hidden = false;
  summary.focus();
}

const TRIMMED = new Set(["text", "password", "url", "email", "search", "textarea"]);

function enhanceValidation(form) {
  form.noValidate = true;
  form.addEventListener("submit", (event) => {
    const problems = [];
    [...form.elements].forEach((control) => {
      if (!control.willValidate || !control.name) return;
      // The server trims every value before checking and storing it; so does the browser.
      if (TRIMMED.has(control.type) && control.value !== control.value.trim()) control.value = control.value.trim();
      const message = control.checkValidity() ? null : messageFor(control);
      setFieldErrors(control, message ? [message] : []);
      if (message) problems.push({ control, message });
    });
    if (problems.length) {
      event.preventDefault();
      showSummary(form, problems);
      return;
    }
    const button = event.submitter || form.querySelector("button[type=submit]");
    if (button) {
      // A disabled button is left out of what the form sends: carry its choice in a hidden input.
      if (button.name) {
        const choice = Object.assign(document.createElement("input"), { type: "hidden", name: button.name, value: button.value });
        form.append(choice);
      }
      button.disabled = true;
      button.classList.add("is-busy");
      if (button.dataset.busyLabel) button.textContent = button.dataset.busyLabel;
    }
  });
  // A corrected field loses its error as soon as it is valid.
  form.addEventListener("input", (event) => {
    const control = event.target;
    if (control.getAttribute?.("aria-invalid") === "true" && control.checkValidity()) setFieldErrors(control, []);
  });
}

export function enhanceConnectionForm(form) {
  enhanceSecretToggles(form);
  enhanceConditions(form);
  enhanceValidation(form);
}

export function focusErrorSummary() {
  document.querySelector("[data-error-summary]")?.focus();
}
