// A job's page: overview, status history, live log, metric charts, outputs, cancel;
// for a sweep, the sweep sections (trials, best so far, parallel coordinates, curves).
import { download, getWorkspace, jobHref, jobPath, request, setWorkspace, wsPath } from "./api.js";
import { color, lineChart, sample, updateChart } from "./charts.js";
import { TERMINAL, fmtBytes, fmtDuration, fmtTime, h, section, statusBadge } from "./dom.js";
import { renderSweep } from "./sweep.js";

const POLL_MS = 2000;
const LOG_MS = 1000;
const MAX_LOG_CHARS = 2_000_000; // the page keeps the tail of a longer log
const MAX_CHART_POINTS = 2000; // per metric chart (even sample, the last point kept)
const LOG_PATH = "user_logs/std_log.txt";

export async function renderJob(page, ws, name, { notFound, onError }) {
  let job;
  try {
    job = await request(jobPath(ws, name), { signal: page.signal });
  } catch (err) {
    if (err.status === 404 && err.name !== "Unauthorized") {
      notFound(`Job "${name}" does not exist in workspace ${ws.ws} (${ws.sub} / ${ws.rg}).`);
      return;
    }
    throw err;
  }
  if (JSON.stringify(getWorkspace()) !== JSON.stringify(ws)) setWorkspace(ws);
  const props = job.properties || {};
  const isSweep = String(props.jobType).toLowerCase() === "sweep";
  const extra = props.properties || {};

  // -- header and cancel ------------------------------------------------------------------
  const status = h("span", { id: "job-status" }, statusBadge(props.status));
  const cancel = h("button", { type: "button", id: "cancel", className: "danger" }, "Cancel");
  const cancelNote = h("span", { className: "muted", id: "cancel-note" });
  cancel.disabled = TERMINAL.has(props.status) || props.status === "CancelRequested";
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    cancelNote.textContent = "cancel requested…";
    try {
      await request(`${jobPath(ws, name)}/cancel`, { method: "POST", signal: page.signal });
      refresh();
    } catch (err) {
      cancelNote.textContent = `cancel failed: ${err.message}`;
      cancel.disabled = false;
      onError(err, null);
    }
  });
  const parent = extra.parent_run_id;
  const header = h(
    "section",
    { className: "card job-header" },
    h("p", {}, h("a", { href: "#/" }, "← jobs"), parent ? [" · trial of sweep ", h("a", { href: jobHref(ws, parent), id: "parent-link" }, parent)] : null),
    h("h1", {}, h("span", { id: "job-name" }, name), " ", status),
    h("p", { className: "muted" }, `${props.jobType || "Job"} · experiment ${props.experimentName || "Default"}`),
    h("p", {}, cancel, " ", cancelNote),
  );

  // -- overview, history, properties -------------------------------------------------------
  const overview = h("dl", { className: "overview", id: "overview" });
  const historyBody = h("tbody");
  const historyTable = h("table", { id: "history" }, h("thead", {}, h("tr", {}, ["Status", "At", "After", "Reason"].map((t) => h("th", {}, t)))), historyBody);
  const propsPre = h("pre", { className: "json", id: "properties" });
  const sections = [header, section("Overview", overview)];

  const sweepBox = h("div", { id: "sweep" });
  const logPre = h("pre", { className: "log", id: "log" });
  const logNote = h("p", { className: "muted", id: "log-note" });
  const ranks = processCount(props);
  const rankSelect = h(
    "select",
    { id: "log-rank", "aria-label": "process" },
    Array.from({ length: ranks }, (_, r) => h("option", { value: String(r) }, `rank ${r}`)),
  );
  const metricsBox = h("div", { className: "charts", id: "metrics" });
  const outputsList = h("ul", { className: "outputs", id: "outputs" });
  if (isSweep) sections.push(sweepBox, section("Status history", historyTable));
  else {
    sections.push(
      section("Status history", historyTable),
      ranks > 1 ? section("Log", rankSelect, logNote, logPre) : section("Log", logNote, logPre),
      section("Metrics", metricsBox),
      section("Outputs", outputsList),
    );
  }
  sections.push(section("Properties as submitted", propsPre));
  page.view.replaceChildren(...sections);

  const showOverview = (j, hist) => {
    const p = j.properties || {};
    const rows = [
      ["Display name", p.displayName],
      ["Description", p.description],
      ["Command", p.command || (p.trial && p.trial.command)],
      ["Compute", p.compute && String(p.compute.target || "local").split("/").pop()],
      ["Nodes", p.compute && (p.compute.instanceCount || p.compute.instanceType) && [p.compute.instanceCount || 1, p.compute.instanceType].filter(Boolean).join(" x ")],
      ["Created", fmtTime(j.systemData && j.systemData.createdAt)],
      ["Waiting", hist && hist.queueReason],
      ["Status reason", hist && hist.reason],
      ["Exit code", hist && hist.exitCode !== null && hist.exitCode !== undefined ? String(hist.exitCode) : null],
      ["Logs and outputs", p.output && `${String(p.output.datastoreId || "").split("/").pop()}/${p.output.path}`],
      ["Tags", Object.entries(p.tags || {}).map(([k, v]) => `${k}=${v}`).join(", ")],
    ];
    overview.replaceChildren(...rows.filter(([, v]) => v).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
    const shown = { ...p };
    for (const key of ["interactionEndpoints", "status", "provisioningState", "output"]) delete shown[key];
    propsPre.textContent = JSON.stringify(shown, null, 2);
  };
  const showHistory = (hist) => {
    let prev = null;
    historyBody.replaceChildren(
      ...(hist.value || []).map((e) => {
        const at = Date.parse(e.at);
        const after = prev === null ? "" : fmtDuration(at - prev);
        prev = at;
        return h("tr", {}, h("td", {}, statusBadge(e.status)), h("td", {}, fmtTime(e.at)), h("td", {}, after), h("td", {}, e.reason || ""));
      }),
    );
    historyTable.dataset.rows = String((hist.value || []).length);
  };

  let hist = await request(`${jobPath(ws, name)}/history`, { signal: page.signal });
  showOverview(job, hist);
  showHistory(hist);
  let terminal = TERMINAL.has(props.status);

  const refresh = async () => {
    job = await request(jobPath(ws, name), { signal: page.signal });
    hist = await request(`${jobPath(ws, name)}/history`, { signal: page.signal });
    const s = job.properties.status;
    status.replaceChildren(statusBadge(s));
    cancel.disabled = TERMINAL.has(s) || s === "CancelRequested";
    if (TERMINAL.has(s)) cancelNote.textContent = "";
    showOverview(job, hist);
    showHistory(hist);
    terminal = TERMINAL.has(s);
  };

  if (isSweep) {
    await renderSweep(page, ws, job, sweepBox, { onError, isTerminal: () => terminal });
    page.ready("sweep");
  } else {
    const output = props.output || {};
    const store = String(output.datastoreId || "/workspaceblobstore").split("/").pop();
    const base = `${wsPath(ws)}/datastores/${encodeURIComponent(store)}`;
    const prefix = output.path || `ExperimentRun/dcid.${name}`;
    const logPath = (rank) => (ranks > 1 ? `user_logs/std_log_process_${rank}.txt` : LOG_PATH);
    let logs = followLog(page, `${base}/files/${prefix}/${logPath(0)}`, logPre, logNote, () => terminal);
    rankSelect.addEventListener("change", () => {
      logs.stop();
      logPre.textContent = "";
      logs = followLog(page, `${base}/files/${prefix}/${logPath(rankSelect.value)}`, logPre, logNote, () => terminal);
    });
    const metrics = metricCharts(page, ws, name, metricsBox);
    await Promise.all([logs.first, metrics.update(), listOutputs(page, base, prefix, outputsList)]);
    page.ready("job");
    page.every(3000, async () => {
      try {
        await metrics.update();
        if (terminal) {
          await listOutputs(page, base, prefix, outputsList);
          return false;
        }
      } catch (err) {
        onError(err, null);
        if (err.status === 401) return false;
      }
      return 3000;
    });
  }
  page.every(POLL_MS, async () => {
    if (terminal) return false;
    try {
      await refresh();
    } catch (err) {
      onError(err, null);
      if (err.status === 401) return false;
    }
    return POLL_MS;
  });
}

/** How many processes a job runs: one log per rank when more than one (docs/distributed.md). */
function processCount(p) {
  const d = p.distribution || {};
  const nodes = Number((p.compute || {}).instanceCount || 1);
  if (d.distributionType === "PyTorch") return Number(d.processCount || nodes);
  if (d.distributionType === "Mpi") return Number(d.processCountPerInstance || 1) * nodes;
  if (d.distributionType === "TensorFlow") return Number(d.workerCount || nodes) + Number(d.parameterServerCount || 0);
  return nodes;
}

/** Follow the job's log with ?offset= while it runs; one last read after it ends. */
function followLog(page, path, pre, note, isTerminal) {
  let stopped = false;
  let offset = 0;
  let text = "";
  const decoder = new TextDecoder();
  let finalRead = false;
  const read = async () => {
    if (stopped) return;
    let resp;
    try {
      resp = await request(path, { raw: true, params: { offset }, signal: page.signal });
    } catch (err) {
      if (err.status === 404) {
        note.textContent = isTerminal() ? "This job wrote no log." : "Waiting for the log…";
        return;
      }
      throw err;
    }
    const bytes = new Uint8Array(await resp.arrayBuffer());
    if (stopped) return; // another rank was chosen while this read was in flight
    const size = Number(resp.headers.get("x-amlite-file-size") || 0);
    offset += bytes.length;
    if (bytes.length) {
      text += decoder.decode(bytes, { stream: true });
      if (text.length > MAX_LOG_CHARS) text = text.slice(text.length - MAX_LOG_CHARS);
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = text;
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }
    pre.dataset.bytes = String(offset);
    note.textContent = isTerminal() ? `${fmtBytes(size)}` : `following… ${fmtBytes(size)}`;
    if (offset < size) await read(); // more than one read's worth is waiting
  };
  const first = read();
  page.every(LOG_MS, async () => {
    if (stopped) return false;
    const done = isTerminal();
    await read();
    if (done) {
      if (finalRead) return false;
      finalRead = true;
    }
    return LOG_MS;
  });
  return {
    first,
    stop: () => {
      stopped = true;
    },
  };
}

/** One chart per metric key, value against step (or time when the steps are all equal). */
function metricCharts(page, ws, name, box) {
  const charts = new Map();
  const update = async () => {
    const data = await request(`${jobPath(ws, name)}/metrics`, { signal: page.signal });
    const history = data.history || {};
    const keys = Object.keys(history).sort();
    if (!keys.length) {
      if (!box.querySelector(".chart")) box.replaceChildren(h("p", { className: "muted", id: "no-metrics" }, "No metrics logged (yet)."));
      box.dataset.charts = "0";
      return;
    }
    const empty = box.querySelector("#no-metrics");
    if (empty) empty.remove();
    keys.forEach((key, i) => {
      const raw = history[key].map((p) => ({ step: Number(p.step), ts: Number(p.timestamp), y: typeof p.value === "number" ? p.value : null }));
      const byStep = new Set(raw.map((p) => p.step)).size > 1 || raw.length === 1;
      const points = sample(raw.map((p) => ({ x: byStep ? p.step : p.ts, y: p.y })), MAX_CHART_POINTS);
      const dataset = { label: key, data: points, borderColor: color(i), backgroundColor: color(i, 0.2), pointRadius: points.length > 100 ? 0 : 2, borderWidth: 2 };
      const known = charts.get(key);
      if (known) updateChart(known.box, known.chart, [dataset]);
      else {
        const made = lineChart(page, {
          id: `metric-${i}`,
          title: key,
          datasets: [dataset],
          xLabel: byStep ? "step" : "time",
          yLabel: key,
          xType: byStep ? "linear" : "time-ms",
          legend: false,
          height: 220,
        });
        made.box.dataset.metric = key;
        box.append(made.wrap);
        charts.set(key, made);
      }
    });
    box.dataset.charts = String(charts.size);
  };
  return { update };
}

async function listOutputs(page, base, prefix, list) {
  const data = await request(`${base}/list`, { params: { path: `${prefix}/outputs` }, signal: page.signal });
  const files = data.value || [];
  list.dataset.files = String(files.length);
  if (!files.length) {
    list.replaceChildren(h("li", { className: "muted" }, "No outputs."));
    return;
  }
  list.replaceChildren(
    ...files.map((f) => {
      const button = h("button", { type: "button", className: "link", dataset: { path: f.path } }, f.path);
      button.addEventListener("click", () => download(`${base}/files/${prefix}/outputs/${f.path.split("/").map(encodeURIComponent).join("/")}`, f.path.split("/").pop()));
      return h("li", {}, button, " ", h("span", { className: "muted" }, fmtBytes(f.size)));
    }),
  );
}

