// Progressive enhancement for every page. Each part looks for its own data-* hooks.
import { enhanceCatalogFilter } from "./catalog-filter.js";
import { enhanceConnectionForm, focusErrorSummary } from "./connection-form.js";
import { enhanceDeleteLinks } from "./confirm-delete.js";
import { rememberTimeZone } from "./dates.js";
import { enhanceTestForm } from "./connection-test.js";
import { enhanceToasts } from "./toasts.js";

function restoreMissingIcons() {
  // An icon that fails to load becomes the integration's monogram.
  document.querySelectorAll(".integration-icon img[data-monogram]").forEach((img) => {
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

function start() {
  rememberTimeZone();
  enhanceToasts();
  restoreMissingIcons();
  document.querySelectorAll("[data-filter-catalog]").forEach(enhanceCatalogFilter);
  document.querySelectorAll("[data-connection-form]").forEach(enhanceConnectionForm);
  document.querySelectorAll("[data-test-form]").forEach(enhanceTestForm);
  enhanceDeleteLinks(document.querySelectorAll("[data-confirm-delete]"));
  focusErrorSummary();
  document.documentElement.classList.add("js");
}

start();
