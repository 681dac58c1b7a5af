// Parallel coordinates on a canvas: one vertical axis per parameter and one for the metric,
// one polyline per trial coloured by its metric value. Numeric axes are linear (log when the
// values are positive and span three decades); other values get evenly spaced categories.
// Text is drawn with fillText, so names and values are never markup.
import { h } from "./dom.js";

const MARGIN = { top: 28, bottom: 26, left: 40, right: 60 };

function axisFor(key, values) {
  const present = values.filter((v) => v !== undefined && v !== null);
  const numeric = present.length > 0 && present.every((v) => typeof v === "number" && Number.isFinite(v));
  if (numeric) {
    let min = Math.min(...present);
    let max = Math.max(...present);
    const log = min > 0 && max / min >= 1000;
    if (log) {
      min = Math.log10(min);
      max = Math.log10(max);
    }
    if (min === max) {
      min -= 0.5;
      max += 0.5;
    }
    return {
      key,
      log,
      pos: (v) => (typeof v === "number" && Number.isFinite(v) ? ((log ? Math.log10(v) : v) - min) / (max - min) : null),
      ticks: [0, 0.5, 1].map((t) => {
        const raw = min + t * (max - min);
        const value = log ? 10 ** raw : raw;
        return [t, Number(value.toPrecision(3)).toString()];
      }),
    };
  }
  const cats = [...new Set(present.map((v) => (typeof v === "string" ? v : JSON.stringify(v))))].sort();
  const index = new Map(cats.map((c, i) => [c, i]));
  const spread = Math.max(cats.length - 1, 1);
  return {
    key,
    log: false,
    pos: (v) => {
      if (v === undefined || v === null) return null;
      const i = index.get(typeof v === "string" ? v : JSON.stringify(v));
      return i === undefined ? null : cats.length === 1 ? 0.5 : i / spread;
    },
    ticks: cats.slice(0, 12).map((c, i) => [cats.length === 1 ? 0.5 : i / spread, c.length > 14 ? `${c.slice(0, 13)}…` : c]),
  };
}

function ramp(t) {
  // blue (poor) → yellow (good)
  const a = [37, 99, 235];
  const b = [234, 179, 8];
  const c = a.map((x, i) => Math.round(x + (b[i] - x) * t));
  return `rgba(${c[0]}, ${c[1]}, ${c[2]}, 0.55)`;
}

/**
 * Draw `rows` ({params: {k: v}, value: number, highlight: bool}) over `keys` plus the metric.
 * The container gets data-lines (polylines drawn) and data-axes.
 */
export function parallelCoordinates({ id, keys, metric, maximize, rows, height = 300 }) {
  const canvas = h("canvas");
  const box = h("div", { className: "chart parallel", id, style: `height:${height}px` }, canvas);
  const draw = () => {
    const width = box.clientWidth || 800;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const axes = keys.map((k) => axisFor(k, rows.map((r) => r.params[k])));
    const metricAxis = axisFor(metric, rows.map((r) => r.value));
    axes.push(metricAxis);
    const plotW = width - MARGIN.left - MARGIN.right;
    const plotH = height - MARGIN.top - MARGIN.bottom;
    const xOf = (i) => MARGIN.left + (axes.length === 1 ? plotW / 2 : (i * plotW) / (axes.length - 1));
    const yOf = (t) => MARGIN.top + (1 - t) * plotH;
    // worst first, so the best lines end on top
    const ordered = rows.slice().sort((a, b) => (maximize ? a.value - b.value : b.value - a.value));
    let drawn = 0;
    for (const row of ordered) {
      const m = metricAxis.pos(row.value);
      if (m === null) continue;
      ctx.strokeStyle = row.highlight ? "rgba(220, 38, 38, 0.95)" : ramp(maximize ? m : 1 - m);
      ctx.lineWidth = row.highlight ? 2.5 : 1;
      ctx.beginPath();
      let pen = false;
      axes.forEach((axis, i) => {
        const t = i === axes.length - 1 ? m : axis.pos(row.params[axis.key]);
        if (t === null) {
          pen = false;
          return;
        }
        if (pen) ctx.lineTo(xOf(i), yOf(t));
        else ctx.moveTo(xOf(i), yOf(t));
        pen = true;
      });
      ctx.stroke();
      drawn += 1;
    }
    ctx.fillStyle = "#111827";
    ctx.strokeStyle = "#374151";
    ctx.lineWidth = 1;
    ctx.font = "12px system-ui, sans-serif";
    axes.forEach((axis, i) => {
      const x = xOf(i);
      ctx.beginPath();
      ctx.moveTo(x, MARGIN.top);
      ctx.lineTo(x, MARGIN.top + plotH);
      ctx.stroke();
      ctx.textAlign = "center";
      ctx.fillText(`${axis.key}${axis.log ? " (log)" : ""}`, x, MARGIN.top - 10);
      ctx.textAlign = "left";
      for (const [t, label] of axis.ticks) ctx.fillText(label, x + 4, yOf(t) + 4);
    });
    box.dataset.lines = String(drawn);
    box.dataset.axes = String(axes.length);
  };
  return { box, draw };
}
