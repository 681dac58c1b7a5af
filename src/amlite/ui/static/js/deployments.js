// Deployments (Microsoft.Resources/deployments) of one resource group, and one deployment's
// operations: each resource it deployed, each job linked to its page. Live while running.
import { jobHref, localPath, request } from "./api.js";
import { fmtDuration, fmtTime, h, section, statusBadge } from "./dom.js";

export const DEPLOYMENTS_API = "2021-04-01";
const PAGE = 100; // the server's largest $top
const POLL_MS = 2000;
const ACTIVE = new Set(["Accepted", "Running"]);
const MAX_JOB_LINKS = 5; // per row of the list; the deployment's page lists them all
const JOB_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)\/jobs\/([^/]+)$/i;
const DEPLOYMENT_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Resources\/deployments\/([^/]+)$/i;

export function groupPath(sub, rg) {
  const e = encodeURIComponent;
  return `/subscriptions/${e(sub)}/resourceGroups/${e(rg)}/providers/Microsoft.Resources/deployments`;
}

/** The studio page of a deployment. */
export function deploymentHref(sub, rg, name) {
  return `#/deployments${groupPath(sub, rg)}/${encodeURIComponent(name)}`;
}

/** The studio page listing a resource group's deployments. */
export function groupHref(sub, rg) {
  const e = encodeURIComponent;
  return `#/deployments/subscriptions/${e(sub)}/resourceGroups/${e(rg)}`;
}

/** A job's resource id -> its studio page, or null for any other resource. */
export function jobLink(id) {
  const m = JOB_ID.exec(String(id || ""));
  if (!m) return null;
  const d = (x) => x; // resource ids are raw text, not URL-encoded
  return { name: d(m[4]), href: jobHref({ sub: d(m[1]), rg: d(m[2]), ws: d(m[3]) }, d(m[4])) };
}

function deploymentLink(id) {
  const m = DEPLOYMENT_ID.exec(String(id || ""));
  if (!m) return null;
  const d = (x) => x; // resource ids are raw text, not URL-encoded
  return { name: d(m[3]), href: deploymentHref(d(m[1]), d(m[2]), d(m[3])) };
}

/** ARM's "PT1.234S" (or PT1M2S, PT1H...) as milliseconds. */
export function isoDurationMs(text) {
  const m = /^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(String(text || ""));
  if (!m) return null;
  return ((Number(m[1] || 0) * 60 + Number(m[2] || 0)) * 60 + Number(m[3] || 0)) * 1000;
}

function errorText(error) {
  if (!error) return "";
  const lines = [`${error.code || "Error"}: ${error.message || ""}`];
  for (const detail of error.details || []) {
    lines.push(`${detail.target || "-"}: ${detail.code ? `${detail.code}: ` : ""}${detail.message || ""}`);
  }
  return lines.join("\n");
}

const call = (path, params, signal) =>
  request(path, { params: { "api-version": DEPLOYMENTS_API, ...(params || {}) }, signal });

// -- the list ---------------------------------------------------------------------------------
export async function renderDeployments(page, ws, { onError }) {
  const tbody = h("tbody");
  const table = h(
    "table",
    { id: "deployments-table" },
    h(
      "thead",
      {},
      h("tr", {}, ["Name", "Resource group", "State", "Timestamp", "Duration", "Resources", "Jobs"].map((t) => h("th", {}, t))),
    ),
    tbody,
  );
  const info = h("p", { className: "muted", id: "deployments-info" });
  const more = h("button", { type: "button", id: "load-more", hidden: true }, "Load more");
  page.view.replaceChildren(
    h(
      "section",
      { className: "card" },
      h("h1", {}, `Deployments in ${ws.rg}`),
      h("p", { className: "muted" }, `${ws.sub} · ARM templates, Bicep and Terraform deployed with amlite deployment create`),
    ),
    h("section", { className: "card" }, table, info, more),
  );

  const rows = new Map(); // name -> {tr, deployment}
  let next = null;

  const rowOf = (d) => {
    const p = d.properties || {};
    const resources = p.outputResources || [];
    const jobs = resources.map((r) => jobLink(r.id)).filter(Boolean);
    const links = jobs.slice(0, MAX_JOB_LINKS).map((j) => h("a", { href: j.href, className: "job-link" }, j.name));
    const cells = [];
    links.forEach((a, i) => cells.push(i ? ", " : "", a));
    if (jobs.length > MAX_JOB_LINKS) cells.push(` +${jobs.length - MAX_JOB_LINKS} more`);
    return h(
      "tr",
      { dataset: { name: d.name, state: p.provisioningState, jobs: String(jobs.length) } },
      h("td", {}, h("a", { href: deploymentHref(ws.sub, ws.rg, d.name), className: "deployment-link" }, d.name)),
      h("td", {}, ws.rg),
      h("td", { className: "status-cell" }, statusBadge(p.provisioningState)),
      h("td", {}, fmtTime(p.timestamp)),
      h("td", {}, fmtDuration(isoDurationMs(p.duration))),
      h("td", { className: "num" }, String(resources.length)),
      h("td", {}, cells),
    );
  };
  const put = (d) => {
    const tr = rowOf(d);
    const known = rows.get(d.name);
    if (known) known.tr.replaceWith(tr);
    else tbody.append(tr);
    rows.set(d.name, { tr, deployment: d });
  };
  const showInfo = () => {
    info.textContent = `${rows.size} deployment${rows.size === 1 ? "" : "s"}${next ? ", more on the server" : ""}.`;
    more.hidden = !next;
    table.dataset.rows = String(rows.size);
  };
  const load = async (url, params) => {
    more.disabled = true;
    const data = await call(url, params, page.signal);
    for (const d of data.value || []) put(d);
    next = data.nextLink ? localPath(data.nextLink) : null;
    more.disabled = false;
    showInfo();
  };
  more.addEventListener("click", () => load(next).catch((err) => onError(err, info)));

  await load(groupPath(ws.sub, ws.rg), { $top: PAGE });
  page.ready("deployments");

  // the running ones are read again until they end
  page.every(POLL_MS, async () => {
    const active = [...rows.values()].filter((r) => ACTIVE.has((r.deployment.properties || {}).provisioningState));
    try {
      await Promise.all(
        active.map(async (r) => put(await call(`${groupPath(ws.sub, ws.rg)}/${encodeURIComponent(r.deployment.name)}`, null, page.signal))),
      );
      showInfo();
    } catch (err) {
      onError(err, null);
      if (err.status === 401) return false;
    }
    return POLL_MS;
  });
}

// -- one deployment -----------------------------------------------------------------------------
export async function renderDeployment(page, sub, rg, name, { notFound, onError }) {
  const base = `${groupPath(sub, rg)}/${encodeURIComponent(name)}`;
  let deployment;
  try {
    deployment = await call(base, null, page.signal);
  } catch (err) {
    if (err.status === 404 && err.name !== "Unauthorized") {
      notFound(`Deployment "${name}" does not exist in resource group ${rg} (${sub}).`);
      return;
    }
    throw err;
  }
  const state = h("span", { id: "deployment-state" });
  const overview = h("dl", { className: "overview", id: "deployment-overview" });
  const errorPre = h("pre", { className: "json error", id: "deployment-error", hidden: true });
  const opsBody = h("tbody");
  const opsTable = h(
    "table",
    { id: "operations" },
    h("thead", {}, h("tr", {}, ["Resource type", "Name", "State", "Status code", "Duration", "Error"].map((t) => h("th", {}, t)))),
    opsBody,
  );
  const outputsBody = h("tbody");
  const outputsTable = h("table", { id: "deployment-outputs" }, h("thead", {}, h("tr", {}, ["Output", "Type", "Value"].map((t) => h("th", {}, t)))), outputsBody);
  page.view.replaceChildren(
    h(
      "section",
      { className: "card" },
      h("p", {}, h("a", { href: groupHref(sub, rg), id: "deployments-link" }, `← deployments in ${rg}`)),
      h("h1", {}, h("span", { id: "deployment-name" }, name), " ", state),
      h("p", { className: "muted" }, `${sub} / ${rg}`),
      errorPre,
    ),
    section("Overview", overview),
    section("Operations", opsTable),
    section("Outputs", outputsTable),
  );

  const show = (d, ops) => {
    const p = d.properties || {};
    state.replaceChildren(statusBadge(p.provisioningState));
    overview.replaceChildren(
      ...[
        ["resource group", rg],
        ["timestamp", fmtTime(p.timestamp)],
        ["duration", fmtDuration(isoDurationMs(p.duration)) || String(p.duration || "")],
        ["resources", String((p.outputResources || []).length)],
        ["mode", p.mode || ""],
        ["correlation id", p.correlationId || ""],
      ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    );
    errorPre.textContent = errorText(p.error);
    errorPre.hidden = !p.error;
    opsBody.replaceChildren(
      ...ops.map((op) => {
        const o = op.properties || {};
        const target = o.targetResource || {};
        const link = jobLink(target.id) || deploymentLink(target.id);
        const error = (o.statusMessage || {}).error;
        return h(
          "tr",
          { dataset: { type: target.resourceType || "", name: target.resourceName || "", state: o.provisioningState || "" } },
          h("td", {}, target.resourceType || ""),
          h("td", {}, link ? h("a", { href: link.href, className: link.href.startsWith("#/jobs") ? "job-link" : "deployment-link" }, target.resourceName) : target.resourceName || ""),
          h("td", {}, statusBadge(o.provisioningState)),
          h("td", {}, o.statusCode || ""),
          h("td", {}, fmtDuration(isoDurationMs(o.duration))),
          h("td", { className: "op-error" }, errorText(error)),
        );
      }),
    );
    opsTable.dataset.rows = String(ops.length);
    const outputs = Object.entries(p.outputs || {});
    outputsBody.replaceChildren(
      ...outputs.map(([k, v]) =>
        h("tr", { dataset: { name: k } }, h("td", {}, k), h("td", {}, v.type || ""), h("td", {}, "value" in v ? JSON.stringify(v.value) : "(secure)")),
      ),
    );
  };
  const operations = async () => {
    const ops = [];
    let url = `${base}/operations`;
    let params = { $top: PAGE };
    while (url) {
      const data = await call(url, params, page.signal);
      ops.push(...(data.value || []));
      url = data.nextLink ? localPath(data.nextLink) : null;
      params = null;
    }
    return ops;
  };

  show(deployment, await operations());
  page.ready("deployment");
  if (!ACTIVE.has(deployment.properties.provisioningState)) return;
  page.every(POLL_MS, async () => {
    try {
      deployment = await call(base, null, page.signal);
      show(deployment, await operations());
    } catch (err) {
      onError(err, null);
      if (err.status === 401) return false;
    }
    return ACTIVE.has(deployment.properties.provisioningState) ? POLL_MS : false;
  });
}
