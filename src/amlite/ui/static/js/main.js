// amlite studio: sign-in, routing between the jobs list, job pages, deployments and their
// pages, and error pages.
import { ApiError, Unauthorized, clearToken, getToken, getWorkspace, setWorkspace } from "./api.js";
import { renderDeployment, renderDeployments } from "./deployments.js";
import { clear, h } from "./dom.js";
import { renderJob } from "./job.js";
import { renderJobs } from "./jobs.js";
import { Page } from "./page.js";
import { renderSignIn } from "./signin.js";

const view = document.getElementById("view");
const form = document.getElementById("workspace-form");
const signOut = document.getElementById("sign-out");
const nav = document.getElementById("nav");
const JOB_ROUTE =
  /^#\/jobs\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)\/jobs\/([^/?]+)\/?$/i;
const DEPLOYMENTS_ROUTE = /^#\/deployments(?:\/subscriptions\/([^/]+)\/resourceGroups\/([^/?]+))?\/?$/i;
const DEPLOYMENT_ROUTE =
  /^#\/deployments\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Resources\/deployments\/([^/?]+)\/?$/i;

let page = null;
let signInMessage = "";

function fillWorkspaceForm(ws) {
  form.elements.sub.value = ws.sub;
  form.elements.rg.value = ws.rg;
  form.elements.ws.value = ws.ws;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const ws = {
    sub: form.elements.sub.value.trim(),
    rg: form.elements.rg.value.trim(),
    ws: form.elements.ws.value.trim(),
  };
  if (!ws.sub || !ws.rg || !ws.ws) return;
  setWorkspace(ws);
  // the deployments list follows the resource group; every other page goes to the jobs list
  const target = location.hash.toLowerCase().startsWith("#/deployments") ? "#/deployments" : "#/";
  if (location.hash === target || (target === "#/" && location.hash === "")) route();
  else location.hash = target;
});

signOut.addEventListener("click", () => {
  clearToken();
  signInMessage = "Signed out.";
  route();
});

/** Every page reports a refused token here: back to sign-in with the reason. */
export function handleError(err, where) {
  if (err instanceof Unauthorized) {
    signInMessage = `The token was refused (401): ${err.message}`;
    route();
    return;
  }
  if (err && err.name === "AbortError") return;
  console.error(err);
  if (where && page && page.alive) {
    where.replaceChildren(h("p", { className: "error" }, err instanceof ApiError ? err.message : String(err)));
  }
}

function decode(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function notFound(what) {
  view.replaceChildren(
    h(
      "section",
      { className: "card not-found" },
      h("h1", {}, "Not found"),
      h("p", {}, what),
      h("p", {}, h("a", { href: "#/" }, "Back to the jobs list")),
    ),
  );
  page.ready("not-found");
}

async function route() {
  if (page) page.dispose();
  clear(view);
  view.dataset.ready = "false";
  delete view.dataset.page;
  page = new Page(view);
  const hash = location.hash || "#/";
  if (!getToken()) {
    form.hidden = true;
    signOut.hidden = true;
    nav.hidden = true;
    const message = signInMessage;
    signInMessage = "";
    renderSignIn(page, message, () => route());
    return;
  }
  form.hidden = false;
  signOut.hidden = false;
  nav.hidden = false;
  const onDeployments = hash.toLowerCase().startsWith("#/deployments");
  for (const link of nav.querySelectorAll("a")) {
    link.classList.toggle("current", (link.dataset.section === "deployments") === onDeployments);
  }
  const job = JOB_ROUTE.exec(hash);
  const deployment = DEPLOYMENT_ROUTE.exec(hash);
  const deployments = DEPLOYMENTS_ROUTE.exec(hash);
  try {
    if (job) {
      const ws = { sub: decode(job[1]), rg: decode(job[2]), ws: decode(job[3]) };
      fillWorkspaceForm(ws);
      await renderJob(page, ws, decode(job[4]), { notFound, onError: handleError });
    } else if (deployment) {
      const [sub, rg, name] = [decode(deployment[1]), decode(deployment[2]), decode(deployment[3])];
      fillWorkspaceForm({ ...getWorkspace(), sub, rg });
      await renderDeployment(page, sub, rg, name, { notFound, onError: handleError });
    } else if (deployments) {
      const ws = getWorkspace();
      if (deployments[1]) {
        ws.sub = decode(deployments[1]);
        ws.rg = decode(deployments[2]);
      }
      fillWorkspaceForm(ws);
      await renderDeployments(page, ws, { onError: handleError });
    } else if (hash === "#/" || hash === "#" || hash === "#/jobs" || hash === "#/signin") {
      const ws = getWorkspace();
      fillWorkspaceForm(ws);
      await renderJobs(page, ws, { onError: handleError });
    } else {
      notFound(`There is no studio page at ${hash}.`);
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && !(err instanceof Unauthorized)) {
      notFound(err.message);
    } else {
      handleError(err, view);
    }
  }
}

window.addEventListener("hashchange", route);
route();
