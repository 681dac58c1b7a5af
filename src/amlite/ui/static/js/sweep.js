// The sweep sections of a sweep job's page, from GET {ws}/jobs/{sweep}/trialsummary: the
// trials table is paged, sorted and filtered by the server (one page of rows per request);
// the counts, best so far and parallel coordinates come from the same answer in compact form
// (best-so-far steps, columns of an even sample of the scored trials); every drawn trial's
// metric curve (best, running, then a sample).
import { jobHref, jobPath, request } from "./api.js";
import { color, lineChart, updateChart } from "./charts.js";
import { TERMINAL, fmtNumber, h, section, statusBadge } from "./dom.js";
import { parallelCoordinates } from "./parallel.js";

const PAGE_ROWS = 50;
const SAMPLE = 2000; // scored trials the plots draw (the server: the best tenth, then an even sample)
const CURVES = 40; // trial curves asked from the server (best, running, then a sample)
const CURVE_POINTS = 200; // points per curve (even sample, last kept)

export async function renderSweep(page, ws, job, box, { onError, isTerminal }) {
  const props = job.properties || {};
  const summaryDl = h("dl", { className: "overview", id: "sweep-summary" });
  const tbody = h("tbody");
  const thead = h("thead");
  const table = h("table", { className: "trials", id: "trials" }, thead, tbody);
  const pager = h("div", { className: "pager", id: "trials-pager" });
  const statusSelect = h("select", { name: "status", id: "trials-status" });
  const filter = h("label", { className: "muted" }, "status ", statusSelect);
  const bestBox = h("div", { id: "best-box" });
  const bestNote = h("p", { className: "muted", id: "best-note" });
  const parallelBox = h("div", { id: "parallel-box" });
  const parallelNote = h("p", { className: "muted", id: "parallel-note" });
  const curvesBox = h("div", { id: "curves-box" });
  const curvesNote = h("p", { className: "muted", id: "curves-note" });
  box.replaceChildren(
    section("Sweep", summaryDl),
    section("Trials", filter, table, pager),
    section("Best so far", bestNote, bestBox),
    section("Parameters and metric", parallelNote, parallelBox),
    section("Metric curves of the trials", curvesNote, curvesBox),
  );

  // data: the last whole answer (summary, charts); rows: the page the table shows
  const state = { data: null, rows: null, sortKey: "value", desc: null, pageNo: 0, status: "" };
  let best = null;
  let curves = null;
  let parallel = null;
  let asked = 0; // answers to older requests than the last one are dropped

  // before the first answer, the goal is the job's own
  const maximize = () => (state.data ? state.data.goal : (props.objective || {}).goal) === "Maximize";
  const valueOf = (t) => (t.score !== null && t.score !== undefined ? t.score : t.best);
  const descOf = (key) => state.desc ?? (key === "value" ? maximize() : false);

  const paramKeys = () => {
    const keys = new Set(Object.keys(props.searchSpace || {}));
    for (const k of state.data.parameters || []) keys.add(k);
    return [...keys].sort();
  };

  const params = (whole) => ({
    $top: PAGE_ROWS,
    $skip: state.pageNo * PAGE_ROWS,
    $orderby: `${state.sortKey} ${descOf(state.sortKey) ? "desc" : "asc"}`,
    status: state.status || undefined,
    curves: whole ? CURVES : 0,
    sample: whole ? SAMPLE : 0,
    points: CURVE_POINTS,
  });

  const fetchSummary = async (whole) => {
    const seq = ++asked;
    const data = await request(`${jobPath(ws, job.name)}/trialsummary`, { params: params(whole), signal: page.signal });
    return seq === asked ? data : null;
  };

  // a new page, order or filter: only the table's rows are asked again
  const reloadTable = async () => {
    try {
      const data = await fetchSummary(false);
      if (!data || !page.alive) return;
      state.rows = data;
      drawTable();
    } catch (err) {
      onError(err, null);
    }
  };

  const header = (label, key) => {
    const active = state.sortKey === key;
    const desc = descOf(key);
    const th = h("th", { className: "sortable", tabIndex: 0, dataset: { sort: key }, "aria-sort": active ? (desc ? "descending" : "ascending") : "none" }, label, active ? (desc ? " ▼" : " ▲") : "");
    const sortBy = () => {
      if (state.sortKey === key) state.desc = !descOf(key);
      else {
        state.sortKey = key;
        state.desc = null;
      }
      state.pageNo = 0;
      reloadTable();
    };
    th.addEventListener("click", sortBy);
    th.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        sortBy();
      }
    });
    return th;
  };

  const drawFilter = () => {
    const counts = state.data.counts || {};
    const chosen = state.status;
    const options = [h("option", { value: "" }, `all (${state.data.total})`)];
    for (const s of Object.keys(counts).sort()) options.push(h("option", { value: s }, `${s} (${counts[s]})`));
    if (chosen && !(chosen in counts)) options.push(h("option", { value: chosen }, `${chosen} (0)`));
    statusSelect.replaceChildren(...options);
    statusSelect.value = chosen;
  };
  statusSelect.addEventListener("change", () => {
    state.status = statusSelect.value;
    state.pageNo = 0;
    reloadTable();
  });

  const drawTable = () => {
    const data = state.rows;
    const keys = paramKeys();
    thead.replaceChildren(
      h("tr", {}, header("#", "index"), h("th", {}, "Trial"), header("Status", "status"), keys.map((k) => header(k, `hyperparameters/${k}`)), header(`${data.metric} (${maximize() ? "max" : "min"})`, "value"), h("th", {}, "Note")),
    );
    const total = data.count;
    const pages = Math.max(1, Math.ceil(total / PAGE_ROWS));
    const start = state.pageNo * PAGE_ROWS;
    const shown = data.value;
    tbody.replaceChildren(
      ...shown.map((t) => {
        const isBest = t.name === data.bestTrial;
        return h(
          "tr",
          { dataset: { name: t.name, early: String(t.earlyTerminated) }, className: isBest ? "best" : "" },
          h("td", {}, String(t.index)),
          h("td", {}, h("a", { href: jobHref(ws, t.name) }, t.name)),
          h("td", {}, statusBadge(t.status)),
          keys.map((k) => h("td", { className: "num" }, formatParam(t.hyperparameters[k]))),
          h("td", { className: "num score" }, fmtNumber(valueOf(t)), t.score === null && t.best !== null ? h("span", { className: "muted" }, " (so far)") : null),
          h("td", {}, isBest ? h("span", { className: "mark best-mark" }, "★ best") : null, t.earlyTerminated ? h("span", { className: "mark early", title: t.reason || "" }, "✂ early terminated") : null),
        );
      }),
    );
    table.dataset.rows = String(total);
    table.dataset.shown = String(shown.length);
    table.dataset.page = String(state.pageNo);
    table.dataset.status = state.status;
    const nav = (label, to, disabled) => {
      const b = h("button", { type: "button", disabled, dataset: { to: String(to) } }, label);
      b.addEventListener("click", () => {
        state.pageNo = to;
        reloadTable();
      });
      return b;
    };
    pager.replaceChildren(
      nav("« first", 0, state.pageNo === 0),
      nav("‹ prev", state.pageNo - 1, state.pageNo === 0),
      h("span", { className: "muted" }, shown.length ? ` trials ${start + 1}–${start + shown.length} of ${total} ` : total ? ` past the last of ${total} trials ` : " no trials yet "),
      nav("next ›", state.pageNo + 1, state.pageNo >= pages - 1),
      nav("last »", pages - 1, state.pageNo >= pages - 1),
    );
  };

  const drawSummary = () => {
    const d = state.data;
    const counts = d.counts || {};
    // the controller's effective limit (a grid smaller than maxTotalTrials runs only the grid)
    const limit = (props.properties || {}).max_total_trials || props.maxTotalTrials;
    const rows = [
      ["Objective", `${d.goal} ${d.metric}`],
      ["Algorithm", props.algorithm],
      ["Trials", `${d.total}${limit ? ` of ${limit}` : ""} (${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ") || "none yet"})`],
      ["Early terminated", String(d.earlyTerminated)],
      ["Best trial", d.bestTrial ? h("a", { href: jobHref(ws, d.bestTrial), id: "best-trial" }, d.bestTrial) : "-"],
      ["Best score", fmtNumber(d.score)],
    ];
    summaryDl.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  };

  const sampledNote = (s) => (s.count > s.index.length ? `${s.index.length} of ${s.count} scored trials drawn (the best tenth, then an even sample).` : "");

  const bestDatasets = () => {
    const d = state.data;
    const s = d.sample;
    const points = s.index.map((x, i) => ({ x, y: s.value[i] }));
    const steps = (d.bestSoFar || []).map(([x, y]) => ({ x, y }));
    return [
      { label: "trial value", data: points, showLine: false, pointRadius: points.length > 500 ? 1.5 : 3, borderColor: color(8, 0.6), backgroundColor: color(8, 0.4) },
      { label: "best so far", data: steps, stepped: "before", borderColor: color(0), backgroundColor: color(0), pointRadius: 2, borderWidth: 2 },
    ];
  };

  const curveDatasets = () => {
    const d = state.data;
    const early = new Set(d.curvesEarly || []);
    return Object.entries(d.curves || {}).map(([name, pts], i) => {
      const marked = early.has(name);
      const isBest = name === d.bestTrial;
      return {
        label: `${name}${marked ? " (early terminated)" : ""}${isBest ? " (best)" : ""}`,
        data: pts.map(([x, y]) => ({ x, y })),
        marked,
        borderColor: marked ? "rgba(220, 38, 38, 0.75)" : isBest ? "#111827" : color(i, 0.7),
        backgroundColor: marked ? "rgba(220, 38, 38, 0.75)" : color(i, 0.7),
        borderDash: marked ? [5, 4] : [],
        borderWidth: isBest ? 3 : 1.5,
        pointRadius: marked ? 3 : 0,
        pointStyle: "crossRot",
      };
    });
  };

  const parallelRows = () => {
    const s = state.data.sample;
    const keys = Object.keys(s.hyperparameters);
    return s.index.map((_, i) => {
      const rowParams = {};
      for (const k of keys) rowParams[k] = s.hyperparameters[k][i];
      return { params: rowParams, value: s.value[i], highlight: i === s.best };
    });
  };

  const drawCharts = () => {
    const d = state.data;
    const bestSets = bestDatasets();
    if (best) updateChart(best.box, best.chart, bestSets);
    else {
      best = lineChart(page, { id: "best-chart", datasets: bestSets, xLabel: "trial index", yLabel: d.metric, legend: true });
      bestBox.replaceChildren(best.wrap);
    }
    bestNote.textContent = sampledNote(d.sample);
    const curveSets = curveDatasets();
    if (curves) updateChart(curves.box, curves.chart, curveSets);
    else {
      curves = lineChart(page, { id: "curves-chart", datasets: curveSets, xLabel: "value number (logged order)", yLabel: d.metric, height: 320 });
      curvesBox.replaceChildren(curves.wrap);
    }
    curvesNote.textContent =
      (d.curvesCapped ? `${curveSets.length} of ${d.withPoints} trials drawn (the best, the running ones, then an even sample); ` : "") +
      `at most ${CURVE_POINTS} values per curve; dashed red: early terminated.`;
    parallelNote.textContent = sampledNote(d.sample);
    const keys = paramKeys();
    const made = parallelCoordinates({ id: "parallel-chart", keys, metric: d.metric, maximize: maximize(), rows: parallelRows() });
    if (parallel) parallel.box.replaceWith(made.box);
    else parallelBox.replaceChildren(made.box);
    parallel = made;
    made.draw();
  };

  const load = async () => {
    const data = await fetchSummary(true);
    if (!data) return; // a newer request (a page or sort change) is under way
    state.data = data;
    state.rows = data;
    drawSummary();
    drawFilter();
    drawTable();
    drawCharts();
    box.dataset.trials = String(data.total);
  };

  const started = performance.now();
  await load();
  const cost = performance.now() - started;
  window.addEventListener("resize", () => parallel && page.alive && parallel.draw());
  // refresh while the sweep or any trial still runs; slower for big sweeps
  let last = false;
  page.every(Math.max(2000, cost * 5), async () => {
    const done = isTerminal() && Object.keys(state.data.counts || {}).every((s) => TERMINAL.has(s));
    try {
      const t0 = performance.now();
      await load();
      if (done) {
        if (last) return false;
        last = true;
      }
      return Math.max(2000, (performance.now() - t0) * 5);
    } catch (err) {
      onError(err, null);
      if (err.status === 401) return false;
      return 5000;
    }
  });
}

function formatParam(value) {
  if (value === undefined || value === null) return "-";
  if (typeof value === "number") return fmtNumber(value);
  return typeof value === "string" ? value : JSON.stringify(value);
}
