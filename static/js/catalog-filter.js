// Step 1 of the wizard: filter the integration cards as the user types or picks a category.
// Without this module the same form filters on the server.
export function enhanceCatalogFilter(form) {
  const items = [...document.querySelectorAll(".catalog-item")];
  const count = document.querySelector("[data-catalog-count]");
  const empty = document.querySelector("[data-catalog-empty]");
  const search = form.elements.namedItem("q");
  const category = form.elements.namedItem("category");

  function apply() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    items.forEach((item) => {
      const matches =
        (!category.value || item.dataset.category === category.value) &&
        words.every((word) => item.dataset.search.includes(word));
      item.hidden = !matches;
      if (matches) shown += 1;
    });
    if (count) count.textContent = `${shown} integration${shown === 1 ? "" : "s"}`;
    if (empty) empty.hidden = shown > 0;
  }

  // Filtering is live, so the submit button has nothing left to do.
  form.querySelector(".toolbar-actions")?.setAttribute("hidden", "");
  search.addEventListener("input", apply);
  category.addEventListener("change", apply);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
}
