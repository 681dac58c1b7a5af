// Line charts with the vendored Chart.js (window.Chart). Each chart's container carries
// data-series and data-points with what is drawn, so tests and people can check it.
import { h } from "./dom.js";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"];

export function color(i, alpha = 1) {
  const hex = PALETTE[i % PALETTE.length];
  if (alpha === 1) return hex;
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/**
 * A chart in a new container. `datasets` are Chart.js datasets whose data are {x, y} points.
 * xType is "linear" or "time-ms" (x in ms since the epoch, labelled as clock time).
 */
export function lineChart(page, { id, title, datasets, xLabel, yLabel, xType = "linear", legend, height = 260 }) {
  const canvas = h("canvas", { role: "img", "aria-label": title || "chart" });
  const box = h("div", { className: "chart", id, style: `height:${height}px` }, canvas);
  const wrap = h("figure", { className: "chart-wrap" }, title ? h("figcaption", {}, title) : null, box);
  const chart = new window.Chart(canvas, {
    type: "line",
    data: { datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      spanGaps: true,
      interaction: { mode: "nearest", intersect: false },
      plugins: {
        legend: { display: legend ?? datasets.length <= 10 },
        tooltip: { enabled: true },
      },
      scales: {
        x: {
          type: "linear",
          title: { display: Boolean(xLabel), text: xLabel || "" },
          ticks: xType === "time-ms" ? { callback: (v) => new Date(v).toLocaleTimeString(), maxTicksLimit: 8 } : { maxTicksLimit: 12, precision: 0 },
        },
        y: { type: "linear", title: { display: Boolean(yLabel), text: yLabel || "" } },
      },
    },
  });
  page.charts.push(chart);
  annotate(box, chart);
  return { wrap, box, chart };
}

/** Replace a chart's datasets and redraw without animation. */
export function updateChart(box, chart, datasets) {
  chart.data.datasets = datasets;
  chart.options.plugins.legend.display = datasets.length <= 10;
  chart.update("none");
  annotate(box, chart);
}

function annotate(box, chart) {
  const sets = chart.data.datasets;
  box.dataset.series = String(sets.length);
  box.dataset.points = String(sets.reduce((n, d) => n + d.data.length, 0));
  box.dataset.marked = String(sets.filter((d) => d.marked).length);
}

/** At most `most` items of `items`, evenly spaced, always keeping the last. */
export function sample(items, most) {
  if (items.length <= most) return items;
  const stride = (items.length - 1) / (most - 1);
  const out = [];
  for (let i = 0; i < most; i++) out.push(items[Math.round(i * stride)]);
  return out;
}
