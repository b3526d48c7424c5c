// Live connection tests: queue the test through the API, then poll its status until it finishes.
// The enclosing form still works without this module (the server runs the test and redirects).
import { formatDate } from "./dates.js";
import { requestJSON } from "./csrf.js";
import { showToast } from "./toasts.js";

const POLL_EVERY_MS = 500;
const GIVE_UP_AFTER_MS = 90_000;
// Still queued after this long: no worker has picked the test up, so say so and offer to run it now.
const NO_WORKER_AFTER_MS = 4_000;
const PROGRESS = { queued: "Queued — waiting for a worker…", running: "Testing the connection…" };

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function fact(label, value) {
  const wrapper = element("div");
  wrapper.append(element("dt", "", label), element("dd", "", value));
  return wrapper;
}

// The same markup as templates/connections/_test_result.html.
function resultView(run) {
  const ok = run.status === "success";
  const box = element("div", `test-result test-result-${ok ? "success" : "error"}`);
  const headline = element("p", "test-headline");
  headline.append(
    element("span", `badge ${ok ? "badge-success" : "badge-danger"}`, ok ? "Success" : "Failed"),
    " ",
    element("span", "test-message", ok ? run.message : run.errorMessage || run.message),
  );
  const facts = element("dl", "test-facts");
  if (run.statusCode) facts.append(fact("Status code", String(run.statusCode)));
  if (run.responseTime !== null && run.responseTime !== undefined) facts.append(fact("Response time", `${run.responseTime} ms`));
  if (run.finishedAt) {
    const time = element("time", "", formatDate(run.finishedAt));
    time.dateTime = run.finishedAt;
    const wrapper = element("div");
    wrapper.append(element("dt", "", "Tested"), element("dd"));
    wrapper.lastChild.append(time);
    facts.append(wrapper);
  }
  box.append(headline, facts);
  return box;
}

function showProgress(status, state) {
  status.setAttribute("aria-busy", "true");
  status.replaceChildren(element("p", "test-progress", PROGRESS[state] || PROGRESS.running));
}

function setBusy(button, busy) {
  if (!button) return;
  if (busy) {
    button.dataset.idleHtml = button.innerHTML;
    button.textContent = button.dataset.busyLabel || "Testing…";
  } else if (button.dataset.idleHtml) {
    button.innerHTML = button.dataset.idleHtml;
  }
  // aria-disabled, not disabled: a disabled button drops keyboard focus to <body>.
  button.setAttribute("aria-disabled", String(busy));
  button.classList.toggle("is-busy", busy);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The plain explanation and a button that posts the form the way it works without JavaScript:
// the server runs the test itself, then shows the page again with the result.
function showNoWorker(status, form) {
  const box = element("div", "test-no-worker");
  box.dataset.noWorker = "";
  box.append(
    element(
      "p",
      "",
      "No background worker has picked this test up yet — they may be down or busy. It stays queued and runs when one is free, or you can run it now and wait for the answer here.",
    ),
  );
  const runNow = element("button", "button button-primary", "Run the test now");
  runNow.type = "button";
  runNow.addEventListener("click", () => {
    runNow.disabled = true;
    runNow.textContent = "Testing…";
    form.submit(); // the plain POST: no submit event, so not queued again
  });
  box.append(runNow);
  status.removeAttribute("aria-busy"); // announce it: this is news, not progress
  status.replaceChildren(box);
}

async function followRun(statusUrl, status, form) {
  const started = Date.now();
  const deadline = started + GIVE_UP_AFTER_MS;
  let offered = false;
  while (Date.now() < deadline) {
    const { status: code, body } = await requestJSON(statusUrl);
    if (code !== 200 || !body?.success) throw new Error(body?.message || "Could not read the test status");
    const run = body.testRun;
    if (run.status === "success" || run.status === "error") return run;
    if (run.status === "queued" && Date.now() - started >= NO_WORKER_AFTER_MS) {
      if (!offered) showNoWorker(status, form);
      offered = true;
    } else {
      showProgress(status, run.status);
      offered = false;
    }
    await sleep(POLL_EVERY_MS);
  }
  throw new Error("The test is taking too long; check back later");
}

async function runTest(form, status, name) {
  const button = form.querySelector("button[type=submit]");
  setBusy(button, true);
  showProgress(status, "queued");
  try {
    const { status: code, body } = await requestJSON(form.dataset.testApi, { method: "POST", form });
    if (code !== 202 || !body?.testRun) throw new Error(body?.message || "The test could not be started");
    showProgress(status, body.testRun.status);
    const run = await followRun(body.testRun.statusUrl, status, form);
    status.replaceChildren(resultView(run));
    const detail = run.status === "success" ? run.message : run.errorMessage || run.message;
    showToast(
      `${name}: ${run.status === "success" ? "connection test successful" : "connection test failed"}${detail ? ` — ${detail}` : ""}`,
      run.status === "success" ? "success" : "error",
    );
  } catch (error) {
    const box = element("p", "test-result test-result-error");
    box.append(element("span", "badge badge-danger", "Not tested"), " ", element("span", "test-message", error.message));
    status.replaceChildren(box);
    showToast(`${name}: ${error.message}`, "error");
  } finally {
    status.removeAttribute("aria-busy");
    setBusy(button, false);
  }
}

export function enhanceTestForm(form) {
  const scope = form.closest("[data-test-panel], .connection-card");
  const status = scope?.querySelector("[data-test-status]");
  if (!status) return;
  const name = form.dataset.connectionName || "Connection";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (form.querySelector("[aria-disabled=true]")) return; // a test is already running
    runTest(form, status, name);
  });
}
