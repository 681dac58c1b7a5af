// The sweep sections of a sweep job's page, all from one request per refresh
// (GET {ws}/jobs/{sweep}/trialsummary): trials table (sortable, paged), best so far over
// trial index, parallel coordinates, every drawn trial's metric curve.
import { jobHref, jobPath, request } from "./api.js";
import { color, lineChart, sample, updateChart } from "./charts.js";
import { TERMINAL, fmtNumber, h, section, statusBadge } from "./dom.js";
import { parallelCoordinates } from "./parallel.js";

const PAGE_ROWS = 50;
const MAX_SCATTER = 2000; // trial values drawn on the best-so-far chart (even sample)
const MAX_LINES = 2000; // parallel-coordinates lines (the best 200, then an even sample)
const CURVES = 40; // trial curves asked from the server (best, running, then a sample)
const CURVE_POINTS = 200; // points per curve (even sample, last kept)

export async function renderSweep(page, ws, job, box, { onError, isTerminal }) {
  const props = job.properties || {};
  const summaryDl = h("dl", { className: "overview", id: "sweep-summary" });
  const tbody = h("tbody");
  const thead = h("thead");
  const table = h("table", { className: "trials", id: "trials" }, thead, tbody);
  const pager = h("div", { className: "pager", id: "trials-pager" });
  const bestBox = h("div", { id: "best-box" });
  const parallelBox = h("div", { id: "parallel-box" });
  const curvesBox = h("div", { id: "curves-box" });
  const curvesNote = h("p", { className: "muted", id: "curves-note" });
  box.replaceChildren(
    section("Sweep", summaryDl),
    section("Trials", table, pager),
    section("Best so far", bestBox),
    section("Parameters and metric", parallelBox),
    section("Metric curves of the trials", curvesNote, curvesBox),
  );

  const state = { data: null, sortKey: "value", desc: null, pageNo: 0 };
  let best = null;
  let curves = null;
  let parallel = null;

  const maximize = () => state.data.goal === "Maximize";
  const valueOf = (t) => (t.score !== null && t.score !== undefined ? t.score : t.best);

  const sorted = () => {
    const trials = state.data.value.slice();
    const key = state.sortKey;
    const desc = state.desc ?? (key === "value" ? maximize() : false);
    const get =
      key === "value" ? valueOf
      : key === "index" ? (t) => t.index
      : key === "status" ? (t) => t.status
      : (t) => t.hyperparameters[key];
    trials.sort((a, b) => {
      const x = get(a);
      const y = get(b);
      const xm = x === null || x === undefined;
      const ym = y === null || y === undefined;
      if (xm || ym) return xm === ym ? a.index - b.index : xm ? 1 : -1; // missing last
      if (x === y) return a.index - b.index;
      const cmp = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return desc ? -cmp : cmp;
    });
    return trials;
  };

  const paramKeys = () => {
    const keys = new Set(Object.keys((props.searchSpace || {})));
    for (const t of state.data.value.slice(0, 50)) for (const k of Object.keys(t.hyperparameters)) keys.add(k);
    return [...keys].sort();
  };

  const header = (label, key) => {
    const active = state.sortKey === key;
    const desc = state.desc ?? (key === "value" ? maximize() : false);
    const th = h("th", { className: "sortable", dataset: { sort: key }, "aria-sort": active ? (desc ? "descending" : "ascending") : "none" }, label, active ? (desc ? " ▼" : " ▲") : "");
    th.addEventListener("click", () => {
      if (state.sortKey === key) state.desc = !(state.desc ?? (key === "value" ? maximize() : false));
      else {
        state.sortKey = key;
        state.desc = null;
      }
      state.pageNo = 0;
      drawTable();
    });
    return th;
  };

  const drawTable = () => {
    const data = state.data;
    const keys = paramKeys();
    thead.replaceChildren(
      h("tr", {}, header("#", "index"), h("th", {}, "Trial"), header("Status", "status"), keys.map((k) => header(k, k)), header(`${data.metric} (${maximize() ? "max" : "min"})`, "value"), h("th", {}, "Note")),
    );
    const all = sorted();
    const pages = Math.max(1, Math.ceil(all.length / PAGE_ROWS));
    state.pageNo = Math.min(state.pageNo, pages - 1);
    const start = state.pageNo * PAGE_ROWS;
    const shown = all.slice(start, start + PAGE_ROWS);
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
    table.dataset.rows = String(all.length);
    table.dataset.shown = String(shown.length);
    const nav = (label, to, disabled) => {
      const b = h("button", { type: "button", disabled, dataset: { to: String(to) } }, label);
      b.addEventListener("click", () => {
        state.pageNo = to;
        drawTable();
      });
      return b;
    };
    pager.replaceChildren(
      nav("« first", 0, state.pageNo === 0),
      nav("‹ prev", state.pageNo - 1, state.pageNo === 0),
      h("span", { className: "muted" }, all.length ? ` trials ${start + 1}–${start + shown.length} of ${all.length} ` : " no trials yet "),
      nav("next ›", state.pageNo + 1, state.pageNo >= pages - 1),
      nav("last »", pages - 1, state.pageNo >= pages - 1),
    );
  };

  const drawSummary = () => {
    const d = state.data;
    const counts = {};
    for (const t of d.value) counts[t.status] = (counts[t.status] || 0) + 1;
    const early = d.value.filter((t) => t.earlyTerminated).length;
    // the controller's effective limit (a grid smaller than maxTotalTrials runs only the grid)
    const limit = (props.properties || {}).max_total_trials || props.maxTotalTrials;
    const rows = [
      ["Objective", `${d.goal} ${d.metric}`],
      ["Algorithm", props.algorithm],
      ["Trials", `${d.value.length}${limit ? ` of ${limit}` : ""} (${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ") || "none yet"})`],
      ["Early terminated", String(early)],
      ["Best trial", d.bestTrial ? h("a", { href: jobHref(ws, d.bestTrial), id: "best-trial" }, d.bestTrial) : "-"],
      ["Best score", fmtNumber(d.score)],
    ];
    summaryDl.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  };

  const bestDatasets = () => {
    const d = state.data;
    const scored = d.value.filter((t) => typeof valueOf(t) === "number").sort((a, b) => a.index - b.index);
    const steps = [];
    let bestSoFar = null;
    scored.forEach((t, i) => {
      const v = valueOf(t);
      const better = bestSoFar === null || (maximize() ? v > bestSoFar : v < bestSoFar);
      if (better) {
        bestSoFar = v;
        steps.push({ x: t.index, y: v });
      } else if (i === scored.length - 1) steps.push({ x: t.index, y: bestSoFar });
    });
    const points = sample(scored, MAX_SCATTER).map((t) => ({ x: t.index, y: valueOf(t) }));
    return [
      { label: "trial value", data: points, showLine: false, pointRadius: points.length > 500 ? 1.5 : 3, borderColor: color(8, 0.6), backgroundColor: color(8, 0.4) },
      { label: "best so far", data: steps, stepped: "before", borderColor: color(0), backgroundColor: color(0), pointRadius: 2, borderWidth: 2 },
    ];
  };

  const curveDatasets = () => {
    const d = state.data;
    const byName = new Map(d.value.map((t) => [t.name, t]));
    return Object.entries(d.curves || {}).map(([name, pts], i) => {
      const t = byName.get(name) || {};
      const early = Boolean(t.earlyTerminated);
      const isBest = name === d.bestTrial;
      return {
        label: `${name}${early ? " (early terminated)" : ""}${isBest ? " (best)" : ""}`,
        data: pts.map(([x, y]) => ({ x, y })),
        marked: early,
        borderColor: early ? "rgba(220, 38, 38, 0.75)" : isBest ? "#111827" : color(i, 0.7),
        backgroundColor: early ? "rgba(220, 38, 38, 0.75)" : color(i, 0.7),
        borderDash: early ? [5, 4] : [],
        borderWidth: isBest ? 3 : 1.5,
        pointRadius: early ? 3 : 0,
        pointStyle: "crossRot",
      };
    });
  };

  const parallelRows = () => {
    const d = state.data;
    const scored = d.value.filter((t) => typeof valueOf(t) === "number");
    let rows = scored;
    if (scored.length > MAX_LINES) {
      const ranked = scored.slice().sort((a, b) => (maximize() ? valueOf(b) - valueOf(a) : valueOf(a) - valueOf(b)));
      const top = ranked.slice(0, 200);
      rows = top.concat(sample(ranked.slice(200), MAX_LINES - 200));
    }
    return rows.map((t) => ({ params: t.hyperparameters, value: valueOf(t), highlight: t.name === d.bestTrial }));
  };

  const drawCharts = () => {
    const d = state.data;
    const bestSets = bestDatasets();
    if (best) updateChart(best.box, best.chart, bestSets);
    else {
      best = lineChart(page, { id: "best-chart", datasets: bestSets, xLabel: "trial index", yLabel: d.metric, legend: true });
      bestBox.replaceChildren(best.wrap);
    }
    const curveSets = curveDatasets();
    if (curves) updateChart(curves.box, curves.chart, curveSets);
    else {
      curves = lineChart(page, { id: "curves-chart", datasets: curveSets, xLabel: "value number (logged order)", yLabel: d.metric, height: 320 });
      curvesBox.replaceChildren(curves.wrap);
    }
    const withPoints = d.value.filter((t) => t.points > 0).length;
    curvesNote.textContent =
      (d.curvesCapped ? `${curveSets.length} of ${withPoints} trials drawn (the best, the running ones, then an even sample); ` : "") +
      `at most ${CURVE_POINTS} values per curve; dashed red: early terminated.`;
    const keys = paramKeys();
    const made = parallelCoordinates({ id: "parallel-chart", keys, metric: d.metric, maximize: maximize(), rows: parallelRows() });
    if (parallel) parallel.box.replaceWith(made.box);
    else parallelBox.replaceChildren(made.box);
    parallel = made;
    made.draw();
  };

  const load = async () => {
    state.data = await request(`${jobPath(ws, job.name)}/trialsummary`, { params: { curves: CURVES, points: CURVE_POINTS }, signal: page.signal });
    drawSummary();
    drawTable();
    drawCharts();
    box.dataset.trials = String(state.data.value.length);
  };

  const started = performance.now();
  await load();
  const cost = performance.now() - started;
  window.addEventListener("resize", () => parallel && page.alive && parallel.draw());
  // refresh while the sweep or any trial still runs; slower for big sweeps
  let last = false;
  page.every(Math.max(2000, cost * 5), async () => {
    const done = isTerminal() && state.data.value.every((t) => TERMINAL.has(t.status));
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
