// Progressive enhancement for every page. Each part looks for its own data-* hooks.
import { enhanceCatalogFilter } from "./catalog-filter.js";
import { enhanceConnectionForm, focusErrorSummary } from "./connection-form.js";
import { enhanceDeleteLinks } from "./confirm-delete.js";
import { rememberTimeZone } from "./dates.js";
import { enhanceTestForm } from "./connection-test.js";
import { enhanceToasts } from "./toasts.js";

function restoreMissingIcons(root) {
  // An icon that fails to load becomes the integration's monogram.
  root.querySelectorAll(".integration-icon img[data-monogram]").forEach((img) => {
    const fallback = () => {
      const monogram = document.createElement("span");
      monogram.className = "monogram";
      monogram.textContent = img.dataset.monogram;
      img.replaceWith(monogram);
    };
    if (img.complete && img.naturalWidth === 0) fallback();
    else img.addEventListener("error", fallback);
  });
}

// Parts that come again with new content (My Connections' cards after a live filter).
function enhanceCards(root) {
  restoreMissingIcons(root);
  root.querySelectorAll("[data-test-form]").forEach(enhanceTestForm);
  enhanceDeleteLinks(root.querySelectorAll("[data-confirm-delete]"));
}

function start() {
  rememberTimeZone();
  enhanceToasts();
  enhanceCards(document);
  document.querySelectorAll("[data-filter-catalog]").forEach(enhanceCatalogFilter);
  const filters = document.querySelector("[data-filter-connections]");
  // Loaded only where it is used, so no other page waits for it.
  if (filters) import("./connection-filter.js").then((m) => m.enhanceConnectionFilter(filters, enhanceCards));
  document.querySelectorAll("[data-connection-form]").forEach(enhanceConnectionForm);
  focusErrorSummary();
  document.documentElement.classList.add("js");
}

start();
