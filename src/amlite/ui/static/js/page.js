// One page's lifetime: its timers and fetches end when the user navigates away.

export class Page {
  constructor(view) {
    this.view = view;
    this.alive = true;
    this.timers = new Set();
    this.controller = new AbortController();
    this.charts = [];
  }

  get signal() {
    return this.controller.signal;
  }

  /** Run fn now-ish and again every `ms` (or what fn returns) until the page ends or fn returns false. */
  every(ms, fn) {
    const tick = async () => {
      if (!this.alive) return;
      let next = ms;
      try {
        const result = await fn();
        if (result === false) return;
        if (typeof result === "number") next = result;
      } catch (err) {
        if (!this.alive || err.name === "AbortError") return;
        throw err;
      }
      if (this.alive) this.later(next, tick);
    };
    this.later(ms, tick);
  }

  later(ms, fn) {
    const id = setTimeout(() => {
      this.timers.delete(id);
      if (this.alive) fn();
    }, ms);
    this.timers.add(id);
  }

  ready(kind) {
    if (this.alive) {
      this.view.dataset.page = kind;
      // ms since the document's navigation started (the benchmark's first-render time)
      this.view.dataset.readyAt = performance.now().toFixed(1);
      this.view.dataset.ready = "true";
    }
  }

  dispose() {
    this.alive = false;
    for (const id of this.timers) clearTimeout(id);
    this.timers.clear();
    this.controller.abort();
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
  }
}
