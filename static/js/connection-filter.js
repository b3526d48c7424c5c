// My Connections: the filters apply as the user types or picks, like the catalog's. The list is
// paged on the server, so the server filters: the page asks for itself with the new query and
// takes its results region. Apply (or Enter) applies at once; without this module it submits the form.
export function enhanceConnectionFilter(form, enhance) {
  const results = document.querySelector("[data-connection-results]");
  if (!results) return;
  let timer;
  let latest = 0;

  function query() {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (String(value).trim()) params.set(name, String(value).trim());
    }
    const text = params.toString();
    return text ? `?${text}` : window.location.pathname;
  }

  async function apply() {
    const asked = ++latest;
    const url = query();
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (!response.ok || asked !== latest) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const freshResults = fresh.querySelector("[data-connection-results]");
      if (!freshResults) return;
      results.innerHTML = freshResults.innerHTML;
      // The count is a stable live region (announced); Clear appears only while filtered.
      for (const hook of ["[data-results-count]", "[data-filter-actions]"]) {
        const here = document.querySelector(hook);
        const there = fresh.querySelector(hook);
        if (here && there) here.innerHTML = there.innerHTML;
      }
      history.replaceState(null, "", url);
      enhance(results);
    } catch {
      // Offline or the server is away: the Apply button still works.
    }
  }

  const schedule = (delay) => {
    clearTimeout(timer);
    timer = setTimeout(apply, delay);
  };
  form.addEventListener("input", (event) => {
    if (event.target.matches("input[type=search]")) schedule(250);
  });
  form.addEventListener("change", (event) => {
    if (event.target.matches("select")) schedule(0);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    schedule(0);
  });
}
