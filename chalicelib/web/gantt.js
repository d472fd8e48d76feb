// A Gantt timeline of schedule runs: one row per schedule, past runs coloured by status, upcoming
// runs dashed. Zoom (wheel, buttons, + and -) and pan (drag, buttons, arrow keys); hover or focus
// a bar for its details.
import { fmtMs, fmtTime, h, s } from "./ui.js";

const ROW = 30;
const AXIS = 26;
const MIN_SPAN = 60 * 1000; // one minute
const MAX_SPAN = 30 * 24 * 3600 * 1000;
const STEPS = [1, 5, 15, 30, 60, 180, 360, 720, 1440, 10080].map((m) => m * 60 * 1000);

export class Gantt {
  constructor() {
    this.rows = [];
    this.bars = new Map(); // id -> bar
    this.onRange = null; // (from, to) after every zoom or pan: lets the owner load older runs
    const now = Date.now();
    this.from = now - 2 * 3600 * 1000;
    this.to = now + 3600 * 1000;
    this.svg = s("svg", {
      class: "gantt",
      role: "group",
      tabindex: "0",
      "aria-label": "Gantt timeline of schedule runs. Plus and minus zoom, arrow keys pan.",
    });
    this.tooltip = document.getElementById("tooltip");
    this.svg.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        this.zoom(e.deltaY < 0 ? 0.8 : 1.25, this.timeAt(e.clientX));
      },
      { passive: false },
    );
    this.svg.addEventListener("keydown", (e) => this.key(e));
    this.drag();
    this.element = h(
      "div",
      { class: "gantt-block" },
      h(
        "div",
        { class: "gantt-tools", role: "toolbar", "aria-label": "Timeline controls" },
        this.tool("Zoom in", () => this.zoom(0.5)),
        this.tool("Zoom out", () => this.zoom(2)),
        this.tool("Earlier", () => this.pan(-0.25)),
        this.tool("Later", () => this.pan(0.25)),
        this.tool("Now", () => this.center(Date.now())),
        h("span", { class: "muted", "data-range": "" }),
      ),
      this.svg,
      h(
        "ul",
        { class: "legend", "aria-label": "Legend" },
        ["succeeded", "failed", "skipped", "upcoming"].map((st) =>
          h("li", {}, h("span", { class: `swatch status-${st}`, "aria-hidden": "true" }), st),
        ),
      ),
    );
  }

  tool(label, run) {
    return h("button", { type: "button", class: "quiet", onclick: () => run() }, label);
  }

  setRows(rows) {
    this.rows = rows;
    this.render();
  }

  /** Replaces every bar of a kind (past runs or upcoming ones), keeping the others. */
  setBars(bars, upcoming) {
    for (const [id, bar] of this.bars) if ((bar.status === "upcoming") === upcoming) this.bars.delete(id);
    for (const bar of bars) this.bars.set(bar.id, bar);
    this.render();
  }

  addBar(bar) {
    this.bars.set(bar.id, bar);
    this.render();
  }

  zoom(factor, at = (this.from + this.to) / 2) {
    const span = Math.min(MAX_SPAN, Math.max(MIN_SPAN, (this.to - this.from) * factor));
    const ratio = (at - this.from) / (this.to - this.from);
    this.from = at - span * ratio;
    this.to = this.from + span;
    this.render();
  }

  pan(fraction) {
    const shift = (this.to - this.from) * fraction;
    this.from += shift;
    this.to += shift;
    this.render();
  }

  center(time) {
    const half = (this.to - this.from) / 2;
    this.from = time - half;
    this.to = time + half;
    this.render();
  }

  key(e) {
    const moves = {
      "+": () => this.zoom(0.5),
      "=": () => this.zoom(0.5),
      "-": () => this.zoom(2),
      ArrowLeft: () => this.pan(-0.1),
      ArrowRight: () => this.pan(0.1),
    };
    if (moves[e.key] && e.target === this.svg) {
      e.preventDefault();
      moves[e.key]();
    }
  }

  drag() {
    let start = null;
    this.svg.addEventListener("pointerdown", (e) => {
      if (e.target.classList?.contains("bar")) return;
      start = { x: e.clientX, from: this.from, to: this.to };
      this.svg.setPointerCapture(e.pointerId);
    });
    this.svg.addEventListener("pointermove", (e) => {
      if (!start) return;
      const perPx = (start.to - start.from) / this.plotWidth();
      const shift = (start.x - e.clientX) * perPx;
      this.from = start.from + shift;
      this.to = start.to + shift;
      this.render();
    });
    const end = () => {
      start = null;
    };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", end);
  }

  width() {
    return Math.max(320, this.svg.parentElement?.clientWidth || 900);
  }
  labelWidth() {
    return this.width() < 600 ? 96 : 170;
  }
  plotWidth() {
    return this.width() - this.labelWidth() - 8;
  }
  x(time) {
    return this.labelWidth() + ((time - this.from) / (this.to - this.from)) * this.plotWidth();
  }
  timeAt(clientX) {
    const left = this.svg.getBoundingClientRect().left;
    return this.from + ((clientX - left - this.labelWidth()) / this.plotWidth()) * (this.to - this.from);
  }

  render() {
    const width = this.width();
    const height = AXIS + Math.max(1, this.rows.length) * ROW + 6;
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.svg.setAttribute("width", width);
    this.svg.setAttribute("height", height);
    const span = this.to - this.from;
    const step = STEPS.find((st) => span / st <= 8) || STEPS[STEPS.length - 1];
    const ticks = [];
    for (let t = Math.ceil(this.from / step) * step; t <= this.to; t += step) ticks.push(t);
    const label = (t) => {
      const d = new Date(t);
      const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
      return step >= 1440 * 60000 ? `${d.getMonth() + 1}/${d.getDate()}` : hm;
    };
    const plotLeft = this.labelWidth();
    const children = [
      s("defs", {}, s("clipPath", { id: "gantt-plot" }, s("rect", { x: plotLeft, y: 0, width: this.plotWidth(), height }))),
      s(
        "g",
        { class: "axis", "aria-hidden": "true" },
        ticks.map((t) => [
          s("line", { class: "grid", x1: this.x(t), x2: this.x(t), y1: AXIS - 6, y2: height }),
          s("text", { x: this.x(t) + 3, y: 14 }, label(t)),
        ]),
      ),
    ];
    this.rows.forEach((row, i) => {
      const y = AXIS + i * ROW;
      children.push(s("rect", { class: "row-bg", x: 0, y: y + 2, width, height: ROW - 4, opacity: i % 2 ? 0 : 0.6 }));
      const name = row.name.length > 22 ? row.name.slice(0, 21) + "…" : row.name;
      children.push(s("text", { class: "label", x: 6, y: y + ROW / 2 + 4 }, s("title", {}, row.name), name));
    });
    const index = new Map(this.rows.map((r, i) => [r.id, i]));
    const bars = [];
    for (const bar of this.bars.values()) {
      const i = index.get(bar.scheduleId);
      if (i === undefined || bar.end < this.from || bar.start > this.to) continue;
      const x1 = this.x(bar.start);
      const w = Math.max(5, this.x(bar.end) - x1);
      const details = this.describe(bar);
      const rect = s(
        "rect",
        {
          class: `bar status-${bar.status}`,
          x: x1,
          y: AXIS + i * ROW + 7,
          width: w,
          height: ROW - 14,
          rx: 2,
          tabindex: "0",
          role: "img",
          "aria-label": details.replace(/\n/g, ", "),
          "data-schedule": bar.scheduleId,
          "data-status": bar.status,
          "data-id": bar.id,
        },
        s("title", {}, details),
      );
      const show = (ev) => this.show(details, ev, rect);
      rect.addEventListener("mouseenter", show);
      rect.addEventListener("focus", show);
      rect.addEventListener("mouseleave", () => this.hide());
      rect.addEventListener("blur", () => this.hide());
      bars.push(rect);
    }
    children.push(s("g", { "clip-path": "url(#gantt-plot)" }, bars));
    const now = Date.now();
    if (now >= this.from && now <= this.to) {
      children.push(s("line", { class: "now", x1: this.x(now), x2: this.x(now), y1: AXIS - 6, y2: height }, s("title", {}, "now")));
    }
    this.svg.replaceChildren(...children);
    const range = this.element?.querySelector("[data-range]");
    if (range) range.textContent = `${fmtTime(new Date(this.from).toISOString())} – ${fmtTime(new Date(this.to).toISOString())}`;
    this.onRange?.(this.from, this.to);
  }

  /** Adds past runs loaded for a range panned into. */
  addBars(bars) {
    for (const bar of bars) this.bars.set(bar.id, bar);
    this.render();
  }

  describe(bar) {
    const lines = [`${bar.name}: ${bar.status}`, fmtTime(new Date(bar.start).toISOString())];
    if (bar.status !== "upcoming") lines.push(`duration ${fmtMs(bar.end - bar.start)}`);
    if (bar.trigger) lines.push(`trigger ${bar.trigger}`);
    if (bar.error) lines.push(`error ${bar.error}`);
    return lines.join("\n");
  }

  show(text, event, rect) {
    const box = rect.getBoundingClientRect();
    this.tooltip.textContent = text;
    this.tooltip.hidden = false;
    const x = event.clientX || box.left;
    this.tooltip.style.left = `${Math.min(x + 12, window.innerWidth - 260)}px`;
    this.tooltip.style.top = `${box.bottom + 6}px`;
  }

  hide() {
    this.tooltip.hidden = true;
  }
}
