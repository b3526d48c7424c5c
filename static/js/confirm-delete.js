// Delete asks in a dialog instead of a separate page: deactivate (reversible) or delete
// permanently. The dialog's form posts to the same URL as the confirmation page's, with the same
// `action` values, so the server handles both alike.
import { csrfToken } from "./csrf.js";

function buildDialog() {
  const dialog = document.createElement("dialog");
  dialog.className = "confirm-dialog";
  dialog.setAttribute("aria-labelledby", "confirm-delete-title");
  dialog.setAttribute("aria-describedby", "confirm-delete-help");
  dialog.innerHTML = `
    <h2 id="confirm-delete-title"></h2>
    <p id="confirm-delete-help"></p>
    <form method="post" class="wizard-actions">
      <input type="hidden" name="csrfmiddlewaretoken">
      <button type="button" class="button" data-cancel>Cancel</button>
      <button type="submit" name="action" value="deactivate" class="button button-danger" data-deactivate>Deactivate</button>
      <button type="submit" name="action" value="permanent" class="button button-danger-solid">Delete permanently</button>
    </form>`;
  dialog.querySelector("[data-cancel]").addEventListener("click", () => dialog.close());
  document.body.append(dialog);
  return dialog;
}

const HELP = {
  active:
    "Deactivate stops it being used and keeps it in your list, so you can reactivate it later. " +
    "Delete permanently erases its saved credentials for good; this cannot be undone.",
  inactive: "Delete permanently erases its saved credentials for good; this cannot be undone.",
};

export function enhanceDeleteLinks(links) {
  if (!links.length || typeof HTMLDialogElement === "undefined") return;
  // One dialog for the page, also when links arrive later (My Connections' live filters).
  const dialog = document.querySelector("dialog.confirm-dialog") ?? buildDialog();
  links.forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      const inactive = link.hasAttribute("data-inactive");
      dialog.querySelector("h2").textContent = `Delete “${link.dataset.confirmDelete}”?`;
      dialog.querySelector("#confirm-delete-help").textContent = inactive ? HELP.inactive : HELP.active;
      dialog.querySelector("[data-deactivate]").hidden = inactive;
      const form = dialog.querySelector("form");
      form.action = link.href;
      form.elements.namedItem("csrfmiddlewaretoken").value = csrfToken(link.closest(".connection-card"));
      dialog.showModal();
      dialog.querySelector("[data-cancel]").focus();
    });
  });
}
