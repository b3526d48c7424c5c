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
