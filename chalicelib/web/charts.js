// Small SVG charts over time windows: lines (rates, latencies) or grouped bars (counts). Each is an
// image with a text description; the numbers behind it are in an exportable table beside it.
import { h, s } from "./ui.js";

const W = 560;
const H = 220;
const PAD = { left: 52, right: 12, top: 12, bottom: 28 };

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((m) => m >= value);
}

/**
 * series: [{name, values: [number|null per time]}]; times: window starts (ms) within [from, to];
 * step: the window's length (ms). kind: "line" | "bars"; format(y) labels the axis.
 */
export function chart({ id, title, times, series, from, to, step, kind = "line", format = String, max, minTop = 0 }) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const all = series.flatMap((se) => se.values).filter((v) => v !== null && v !== undefined);
  const top = max ?? niceMax(Math.max(minTop, ...all));
  const start = Math.floor(from / step) * step;
  const span = Math.max(step, to - start + step);
  const x = (t) => PAD.left + ((t - start) / span) * plotW;
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => [
    s("line", { class: "grid", x1: PAD.left, x2: W - PAD.right, y1: y(top * f), y2: y(top * f) }),
    s("text", { x: PAD.left - 6, y: y(top * f) + 4, "text-anchor": "end" }, format(top * f)),
  ]);
  const label = (t) => {
    const d = new Date(t);
    const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
    return step >= 86400e3 ? `${d.getMonth() + 1}/${d.getDate()}` : `${d.getMonth() + 1}/${d.getDate()} ${hm}`;
  };
  const xLabels = [start, start + Math.round(span / 2 / step) * step, start + span - step].map((t, i) =>
    s("text", { x: x(t), y: H - 8, "text-anchor": ["start", "middle", "end"][i] }, label(t)),
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
  );
}
