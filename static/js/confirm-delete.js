// Delete asks for confirmation in a dialog instead of a separate page. The dialog's form posts to
// the same URL as the confirmation page's, so the server handles both alike.
import { csrfToken } from "./csrf.js";

function buildDialog() {
  const dialog = document.createElement("dialog");
  dialog.className = "confirm-dialog";
  dialog.setAttribute("aria-labelledby", "confirm-delete-title");
  dialog.innerHTML = `
    <h2 id="confirm-delete-title"></h2>
    <p>It stops being used straight away and stays in your list as inactive, so you can reactivate it later.</p>
    <form method="post" class="wizard-actions">
      <input type="hidden" name="csrfmiddlewaretoken">
      <button type="button" class="button" data-cancel>Cancel</button>
      <button type="submit" class="button button-danger-solid">Delete connection</button>
    </form>`;
  dialog.querySelector("[data-cancel]").addEventListener("click", () => dialog.close());
  document.body.append(dialog);
  return dialog;
}

export function enhanceDeleteLinks(links) {
  if (!links.length || typeof HTMLDialogElement === "undefined") return;
  const dialog = buildDialog();
  links.forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      dialog.querySelector("h2").textContent = `Delete “${link.dataset.confirmDelete}”?`;
      const form = dialog.querySelector("form");
      form.action = link.href;
      form.elements.namedItem("csrfmiddlewaretoken").value = csrfToken(link.closest(".connection-card"));
      dialog.showModal();
      dialog.querySelector("[data-cancel]").focus();
    });
  });
}
