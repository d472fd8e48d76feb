// Small SVG charts over time windows: lines (rates, latencies) or grouped bars (counts). Each is an
// image with a text description; the numbers behind it are in an exportable table beside it.
import { h, s } from "./ui.js";

const W = 560;
const H = 220;
const PAD = { left: 52, right: 12, top: 12, bottom: 28 };

/**
 * Round tick values for an axis up to ``max``: at most 5 intervals of 1, 2, 2.5 or 5 × 10^k
 * (counts: whole steps only), so labels read 0, 2, 4, 6 or 0, 100, 200 ms, never 0, 1, 3, 4, 5.
 */
export function niceTicks(max, integer = false) {
  const value = max > 0 ? max : 1;
  const raw = value / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const steps = [1, 2, 2.5, 5, 10].map((m) => m * power).filter((m) => !integer || Number.isInteger(m));
  const step = Math.max(integer ? 1 : 0, steps.find((m) => m >= raw) ?? 10 * power);
  const top = Math.max(step, Math.ceil(value / step - 1e-9) * step);
  const ticks = [];
  for (let t = 0; t <= top + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { top, ticks };
}

/**
 * series: [{name, values: [number|null per time]}]; times: window starts (ms) within [from, to];
 * step: the window's length (ms). kind: "line" | "bars" (counts: whole ticks); format(y) labels
 * the axis. The time axis starts at the first window with data (a day of data that began an hour
 * ago fills the chart rather than sitting at its right edge), and says so.
 */
export function chart({ id, title, times, series, from, to, step, kind = "line", format = String, max, minTop = 0 }) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const all = series.flatMap((se) => se.values).filter((v) => v !== null && v !== undefined);
  const { top, ticks } = niceTicks(max ?? Math.max(minTop, ...all), kind === "bars");
  const firstData = times.find((t, i) => series.some((se) => se.values[i] !== null && se.values[i] !== undefined));
  const fitted = firstData !== undefined && firstData - step > from;
  const start = Math.floor((fitted ? firstData - step : from) / step) * step;
  const span = Math.max(step, to - start + step);
  const x = (t) => PAD.left + ((t - start) / span) * plotW;
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  const grid = ticks.map((v) => [
    s("line", { class: "grid", x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }),
    s("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end", "data-tick": v }, format(v)),
  ]);
  const label = (t) => {
    const d = new Date(t);
    const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
    return step >= 86400e3 ? `${d.getMonth() + 1}/${d.getDate()}` : `${d.getMonth() + 1}/${d.getDate()} ${hm}`;
  };
  // start, middle and end; a span of few windows labels its two ends only (no overlapping text)
  const at = span >= 4 * step ? [start, start + Math.round(span / 2 / step) * step, start + span - step] : [start, start + span - step];
  const anchors = at.length === 3 ? ["start", "middle", "end"] : ["start", "end"];
  const xLabels = at.map((t, i) =>
    s("text", { x: i === at.length - 1 ? W - PAD.right : x(t), y: H - 8, "text-anchor": anchors[i] }, label(t)),
  );
  const marks = [];
  const slot = (step / span) * plotW;
  series.forEach((se, k) => {
    if (kind === "bars") {
      const bw = Math.max(1.5, (slot * 0.8) / series.length);
      se.values.forEach((v, i) => {
        if (!v) return;
        const left = x(times[i]) + slot * 0.1 + k * bw;
        marks.push(
          s(
            "rect",
            { class: `s${k}`, x: left, y: y(v), width: bw, height: y(0) - y(v) },
            s("title", {}, `${se.name} ${label(times[i])}: ${format(v)}`),
          ),
        );
      });
    } else {
      let d = "";
      let previous = null;
      se.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        const cx = x(times[i]) + slot / 2;
        // a gap of empty windows breaks the line rather than drawing through it
        d += `${previous !== null && times[i] - previous <= step ? "L" : "M"}${cx},${y(v)}`;
        previous = times[i];
        marks.push(s("circle", { class: `s${k}`, cx, cy: y(v), r: 2.5 }, s("title", {}, `${se.name} ${label(times[i])}: ${format(v)}`)));
      });
      if (d) marks.push(s("path", { class: `line s${k}`, d }));
    }
  });
  const summary = series
    .map((se) => {
      const values = se.values.filter((v) => v !== null && v !== undefined);
      return values.length
        ? `${se.name}: latest ${format(values[values.length - 1])}, highest ${format(Math.max(...values))}`
        : `${se.name}: no data`;
    })
    .join("; ");
  return h(
    "figure",
    { class: "chart", "data-chart": id },
    h("figcaption", {}, title),
    s(
      "svg",
      { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}. ${summary}` },
      s("g", { class: "axis" }, grid, xLabels),
      marks,
    ),
    h(
      "ul",
      { class: "legend" },
      series.map((se, k) => h("li", {}, h("span", { class: `swatch s${k}`, "aria-hidden": "true" }), se.name)),
    ),
    times.length ? null : h("p", { class: "empty" }, "No data in this range."),
    fitted ? h("p", { class: "muted", "data-fitted": "" }, `No data before ${label(firstData)}: the chart starts there.`) : null,
  );
}
