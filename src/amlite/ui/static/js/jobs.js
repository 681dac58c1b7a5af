// The jobs list of one workspace: server-side paging (nextLink) and type/tag filters,
// experiment/status filtered within the fetched pages, live status by polling.
import { jobHref, jobPath, localPath, request, wsPath } from "./api.js";
import { TERMINAL, fmtTime, h, statusBadge } from "./dom.js";

const PAGE = 100; // the server's largest $top
const WANT = 50; // rows to add per "load more" when client-side filters drop rows
const MAX_SCAN_PAGES = 20; // pages fetched per "load more" at most
const POLL_MS = 3000;
const MAX_REFRESH = 25; // non-terminal rows beyond the first page refreshed per tick
const STATUSES = [
  "NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running", "Finalizing",
  "CancelRequested", "Completed", "Failed", "Canceled",
];

export async function renderJobs(page, ws, { onError }) {
  const saved = JSON.parse(sessionStorage.getItem("amlite.studio.filters") || "{}");
  const filters = { experiment: "", type: "", status: "", tag: "", ...saved };
  const input = (name, placeholder) =>
    h("input", { name, placeholder, value: filters[name] || "", size: 14, autocomplete: "off" });
  const select = (name, options) => {
    const el = h("select", { name }, h("option", { value: "" }, "any"), options.map((o) => h("option", { value: o }, o)));
    el.value = filters[name] || "";
    return el;
  };
  const form = h(
    "form",
    { className: "filters", id: "job-filters" },
    h("label", {}, "experiment ", input("experiment", "name")),
    h("label", {}, "type ", select("type", ["Command", "Sweep"])),
    h("label", {}, "status ", select("status", STATUSES)),
    h("label", {}, "tag ", input("tag", "key or key=value")),
    h("button", { type: "submit" }, "Filter"),
  );
  const tbody = h("tbody");
  const table = h(
    "table",
    { className: "jobs", id: "jobs-table" },
    h("thead", {}, h("tr", {}, ["Name", "Type", "Status", "Experiment", "Created", "Tags"].map((t) => h("th", {}, t)))),
    tbody,
  );
  const info = h("p", { className: "muted", id: "jobs-info" });
  const more = h("button", { type: "button", id: "load-more", hidden: true }, "Load more");
  page.view.replaceChildren(
    h("section", { className: "card" }, h("h1", {}, `Jobs in ${ws.ws}`), h("p", { className: "muted" }, `${ws.sub} / ${ws.rg}`), form),
    h("section", { className: "card" }, table, info, more),
  );

  const rows = new Map(); // name -> {tr, job}
  let next = null;
  let scanned = 0;

  const serverParams = () => {
    const params = { $top: PAGE };
    if (filters.type) params.jobType = filters.type;
    const tag = filters.tag.trim();
    if (tag.includes("=")) params.tags = tag;
    else if (tag) params.tag = tag;
    return params;
  };
  const matches = (job) => {
    const p = job.properties || {};
    const exp = filters.experiment.trim().toLowerCase();
    if (exp && !String(p.experimentName || "").toLowerCase().includes(exp)) return false;
    if (filters.status && p.status !== filters.status) return false;
    return true;
  };
  const clientFiltered = () => Boolean(filters.experiment.trim() || filters.status);

  const rowOf = (job) => {
    const p = job.properties || {};
    const tags = Object.entries(p.tags || {}).map(([k, v]) => h("span", { className: "tag" }, v ? `${k}=${v}` : k));
    return h(
      "tr",
      { dataset: { name: job.name } },
      h("td", {}, h("a", { href: jobHref(ws, job.name) }, job.name), p.displayName ? h("div", { className: "muted" }, p.displayName) : null),
      h("td", {}, p.jobType || ""),
      h("td", { className: "status-cell" }, statusBadge(p.status)),
      h("td", {}, p.experimentName || ""),
      h("td", {}, fmtTime(job.systemData && job.systemData.createdAt)),
      h("td", {}, tags),
    );
  };
  const put = (job, where) => {
    const known = rows.get(job.name);
    if (known) {
      if (known.job.properties.status !== job.properties.status) {
        known.tr.querySelector(".status-cell").replaceChildren(statusBadge(job.properties.status));
      }
      known.job = job;
      return;
    }
    if (!matches(job)) return;
    const tr = rowOf(job);
    if (where === "top") tbody.prepend(tr);
    else tbody.append(tr);
    rows.set(job.name, { tr, job });
  };
  const showInfo = () => {
    const filtered = clientFiltered() ? ` (experiment/status filtered in the browser: ${scanned} jobs read)` : "";
    info.textContent = `${rows.size} jobs shown${next ? ", more on the server" : ""}${filtered}.`;
    more.hidden = !next;
    table.dataset.rows = String(rows.size);
  };

  const load = async (first) => {
    more.disabled = true;
    let added = 0;
    let pages = 0;
    let url = first ? `${wsPath(ws)}/jobs` : next;
    do {
      const data = await request(url, { params: first && pages === 0 ? serverParams() : undefined, signal: page.signal });
      const before = rows.size;
      for (const job of data.value || []) put(job, "bottom");
      added += rows.size - before;
      scanned += (data.value || []).length;
      next = data.nextLink ? localPath(data.nextLink) : null;
      url = next;
      pages += 1;
    } while (next && clientFiltered() && added < WANT && pages < MAX_SCAN_PAGES);
    more.disabled = false;
    showInfo();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    for (const key of ["experiment", "type", "status", "tag"]) filters[key] = form.elements[key].value;
    sessionStorage.setItem("amlite.studio.filters", JSON.stringify(filters));
    rows.clear();
    tbody.replaceChildren();
    next = null;
    scanned = 0;
    load(true).catch((err) => onError(err, info));
  });
  more.addEventListener("click", () => load(false).catch((err) => onError(err, info)));

  await load(true);
  page.ready("jobs");

  // live updates: the first page again (new jobs, status changes), then the loaded rows
  // that may still change, a few per tick
  page.every(POLL_MS, async () => {
    try {
      const data = await request(`${wsPath(ws)}/jobs`, { params: serverParams(), signal: page.signal });
      const fresh = (data.value || []).slice().reverse();
      const seen = new Set();
      for (const job of fresh) {
        seen.add(job.name);
        put(job, "top");
      }
      const stale = [...rows.values()].filter((r) => !seen.has(r.job.name) && !TERMINAL.has(r.job.properties.status));
      await Promise.all(
        stale.slice(0, MAX_REFRESH).map(async (r) => {
          try {
            put(await request(jobPath(ws, r.job.name), { signal: page.signal }), "bottom");
          } catch (err) {
            if (err.status === 404) {
              r.tr.remove();
              rows.delete(r.job.name);
            } else throw err;
          }
        }),
      );
      showInfo();
    } catch (err) {
      onError(err, null);
      if (err.status === 401) return false;
    }
    return POLL_MS;
  });
}
