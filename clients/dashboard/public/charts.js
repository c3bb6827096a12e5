// Small helpers over uPlot (loaded as the global `uPlot`) and number
// formatting, shared by the page's views.

const COLORS = ['#3f6fd8', '#d8523f', '#2e9d5b', '#a05ad8', '#d8a13f', '#3fb8d8', '#d83f8f', '#6b7385', '#8bb33f', '#7a4b2a'];
export const color = (i) => COLORS[i % COLORS.length];

export function fmtNs(ns) {
  const v = Number(ns);
  if (!Number.isFinite(v)) return '-';
  if (v >= 1e9) return `${(v / 1e9).toFixed(2)} s`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)} ms`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} µs`;
  return `${Math.round(v)} ns`;
}

export function fmtCount(n) {
  const v = Number(n);
  if (!Number.isFinite(v)) return '-';
  if (Math.abs(v) >= 1e9) return `${(v / 1e9).toFixed(2)}G`;
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

export function fmtDuration(seconds) {
  let s = Math.floor(Number(seconds) || 0);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d) return `${d}d ${h}h ${m}m`;
  if (h) return `${h}h ${m}m ${s}s`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

function wholeNumbers(min, max) {
  const out = [];
  for (let e = Math.floor(min); e <= Math.ceil(max); e++) out.push(e);
  return out;
}

// A line chart that keeps its uPlot until the set of series changes.
// x values are seconds relative to now (negative = past).
export class LineChart {
  constructor(el, { height = 180, yLabel = '', yFormat = fmtCount, log = false } = {}) {
    this.el = el;
    this.height = height;
    this.yLabel = yLabel;
    this.yFormat = yFormat;
    this.log = log;
    this.plot = null;
    this.labels = '';
    this.points = 0;
  }

  // labels: series names; data: [xs, ys1, ys2, ...].
  update(labels, data) {
    this.points = data[0]?.length ?? 0;
    this.el.dataset.points = String(this.points);
    const key = labels.join('\u0000');
    const plotted = this.log ? [data[0], ...data.slice(1).map((ys) => ys.map((v) => (v > 0 ? Math.log10(v) : null)))] : data;
    const width = Math.max(200, this.el.clientWidth || 400);
    if (!this.plot || key !== this.labels || Math.abs(this.plot.width - width) > 20) {
      this.plot?.destroy();
      this.labels = key;
      const yFormat = this.yFormat;
      const toValue = this.log ? (t) => 10 ** t : (t) => t;
      this.plot = new uPlot(
        {
          width,
          height: this.height,
          legend: { show: true },
          cursor: { drag: { x: false, y: false } },
          // A log scale is drawn as log10 of the values on a linear one, so
          // the ticks are whole powers of ten and their labels our own.
          scales: {
            x: { time: false },
            y: { range: this.log ? (u, min, max) => [Math.floor(min ?? 0), Math.max(Math.ceil(max ?? 1), Math.floor(min ?? 0) + 1)] : (u, min, max) => [0, Math.max(max, 1)] },
          },
          axes: [
            { values: (u, ticks) => ticks.map((t) => `${Math.round(t)}s`) },
            {
              label: this.yLabel,
              size: 64,
              values: (u, ticks) => ticks.map((t) => yFormat(toValue(t))),
              ...(this.log ? { splits: (u, i, min, max) => wholeNumbers(min, max) } : {}),
            },
          ],
          series: [{ label: 'age', value: (u, v) => (v == null ? '-' : `${v.toFixed(1)}s`) }].concat(
            labels.map((label, i) => ({ label, stroke: color(i), width: 1.5, value: (u, v) => (v == null ? '-' : yFormat(toValue(v))), spanGaps: false })),
          ),
        },
        plotted,
        this.el,
      );
    } else {
      this.plot.setData(plotted);
    }
  }
}
