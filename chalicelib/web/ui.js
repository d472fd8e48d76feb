// DOM helpers shared by the views: element builders, formatting, notices, tables with export.
import { session } from "./api.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k === "className" ? "class" : k, v === true ? "" : String(v));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** An HTML element: h("button", {class: "quiet", onclick}, "Text"). */
export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
/** An SVG element. */
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG_NS, tag), attrs, children);

/** A button that changes something: not rendered at all for viewer keys. */
export function writeButton(label, onclick, attrs = {}) {
  if (!session.canWrite) return null;
  const { confirm: question, ...rest } = attrs; // a destructive action asks first
  const run = question ? (event) => (window.confirm(question) ? onclick(event) : undefined) : onclick;
  return h("button", { type: "button", "data-write": "", ...rest, onclick: guarded(run) }, label);
}

/**
 * A row's secondary actions behind "More": one primary action stays in view, the rest (pause,
 * edit, delete…) one click away. Nothing for a viewer (no write action to offer). Escape closes it.
 */
export function menu(items) {
  const shown = items.filter(Boolean);
  if (!shown.length) return null;
  const details = h(
    "details",
    { class: "menu" },
    h("summary", { "aria-label": "More actions" }, "More"),
    h("div", { class: "menu-items" }, shown),
  );
  details.addEventListener("toggle", () => {
    if (!details.open) return;
    for (const other of document.querySelectorAll("details.menu[open]")) if (other !== details) other.open = false;
  });
  details.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    details.open = false;
    details.querySelector("summary").focus();
  });
  return details;
}

/** Runs an action with its button disabled, and reports its failure as a notice. */
export function guarded(action) {
  return async (event) => {
    const button = event?.currentTarget;
    if (button) button.disabled = true;
    try {
      await action(event);
    } catch (err) {
      notify(err.message, "error");
    } finally {
      if (button) button.disabled = false;
    }
  };
}

/** An API error as a sentence: its message, then each field's problem. */
export function explain(err) {
  const details = (err.details || []).map((d) => (d.field && d.field !== "body" ? `${d.field}: ${d.problem}` : d.problem));
  return details.length ? `${err.message} ${details.join("; ")}` : err.message;
}

export function notify(text, kind = "info") {
  const notice = document.getElementById("notice");
  notice.textContent = text;
  notice.dataset.kind = kind;
}

const clock = new Map(); // zone -> its formatter (building one is the costly part)
/**
 * A moment in a zone (the viewer's by default, or a schedule's: what its cron means), labelled
 * with the zone as the browser names it then ("UTC", "GMT+1"); no-break spaces keep it on one line.
 */
export function fmtTime(iso, timeZone) {
  if (!iso) return "—";
  const key = timeZone ?? "";
  if (!clock.has(key)) {
    clock.set(
      key,
      new Intl.DateTimeFormat("en-US", {
        timeZone,
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        hourCycle: "h23",
        timeZoneName: "short",
      }),
    );
  }
  const p = Object.fromEntries(
    clock
      .get(key)
      .formatToParts(new Date(iso))
      .map((part) => [part.type, part.value]),
  );
  // non-breaking hyphens and spaces: a time never wraps inside itself (a table column then
  // keeps its width for it)
  return `${p.year}\u2011${p.month}\u2011${p.day}\u00a0${p.hour}:${p.minute}:${p.second}\u00a0${p.timeZoneName}`;
}
/** How far a moment is from now, in words: "in 2 min", "3 h ago", "now". */
export function fmtRelative(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const size = Math.abs(seconds);
  if (size < 30) return "now";
  const [value, unit] =
    size < 5400
      ? [Math.max(1, Math.round(size / 60)), "min"]
      : size < 129600
        ? [Math.round(size / 3600), "h"]
        : [Math.round(size / 86400), "d"];
  return seconds > 0 ? `in ${value}\u00a0${unit}` : `${value}\u00a0${unit} ago`;
}
/** A moment ahead or just behind (a next run, a next attempt): the time and how far it is. */
export const fmtWhen = (iso, timeZone) => (iso ? `${fmtTime(iso, timeZone)} (${fmtRelative(iso)})` : "—");
export const fmtRate = (r) => (r === null || r === undefined ? "—" : `${(r * 100).toFixed(1)} %`);
/** A percentile read from histogram buckets: "≤ 250 ms" (an upper bound), "> 30.00 s" beyond them. */
export const fmtBound = (summary, q) => {
  const above = summary?.[`${q}_above_ms`];
  if (above !== null && above !== undefined) return `> ${fmtMs(above)}`;
  const value = summary?.[`${q}_ms`];
  return value === null || value === undefined ? "—" : `≤ ${fmtMs(value)}`;
};
export const fmtMs = (ms) => (ms === null || ms === undefined ? "—" : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
export const fmtNum = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en"));

/**
 * An empty state that teaches the next step: what it means, a command to copy (the key stays a
 * placeholder: it is never written into the page) and a link to the API reference.
 */
export function teach(text, { method, path, body } = {}) {
  const url = new URL(`v2/${path ?? ""}`, document.baseURI).href;
  const command = path
    ? `curl -X ${method} ${url} -H "Authorization: Bearer $CONDUCTOR_KEY"` +
      (body ? ` -H "Content-Type: application/json" -d '${JSON.stringify(body)}'` : "")
    : null;
  return h(
    "div",
    { class: "teach" },
    h("p", {}, text),
    command ? h("pre", { class: "mono", "data-command": "" }, command) : null,
    h("a", { href: "docs", target: "_blank", rel: "noopener" }, "API reference"),
  );
}

export const statusBadge = (status) => h("span", { class: `status status-${status}` }, String(status).replace(/_/g, " "));

export function cards(items) {
  return h(
    "dl",
    { class: "cards" },
    items.map(([label, value, id]) => h("div", { class: "card", "data-card": id || null }, h("dt", {}, label), h("dd", {}, value))),
  );
}

// --- export -------------------------------------------------------------------------------------

function csvCell(value) {
  let text = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = "'" + text; // a spreadsheet must not run it as a formula
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(columns, rows) {
  const lines = [columns.map((c) => csvCell(c.label)).join(",")];
  for (const row of rows) lines.push(columns.map((c) => csvCell(c.raw ? c.raw(row) : row[c.key])).join(","));
  return lines.join("\r\n") + "\r\n";
}

/** Saves a file made in the browser: no request leaves the page. */
export function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// --- tables ------------------------------------------------------------------------------------

/** Selected row ids per table name. */
const selections = new Map();

/**
 * A table with a heading, CSV/JSON export, optional row selection and bulk actions.
 * columns: [{key, label, raw?(row) (exported value), cell?(row) (shown node)}]
 * bulk: [{label, run(selectedRows)}] (write actions: hidden for viewers)
 * actions(row): nodes for the row's action cell
 */
export function dataTable({ name, title, columns, rows, rowId = (r) => r.id, bulk = [], actions, empty = "Nothing to show.", tools = [] }) {
  // the selection outlives a live reload of the table (rows that left it leave the selection)
  const present = new Set(rows.map(rowId));
  const selected = new Set([...(selections.get(name) || [])].filter((id) => present.has(id)));
  selections.set(name, selected);
  const writeBulk = session.canWrite ? bulk : [];
  const selectable = writeBulk.length > 0;
  const bulkButtons = writeBulk.map((b) =>
    h(
      "button",
      {
        type: "button",
        "data-write": "",
        "data-bulk": b.label,
        disabled: selected.size === 0,
        onclick: guarded(async () => {
          const chosen = rows.filter((r) => selected.has(rowId(r)));
          selected.clear();
          await b.run(chosen);
        }),
      },
      b.label,
    ),
  );
  const refreshBulk = () =>
    bulkButtons.forEach((b) => {
      b.disabled = selected.size === 0;
    });
  const slug = name.replace(/[^a-z0-9]+/gi, "-");
  const head = h(
    "div",
    { class: "table-head" },
    h("h3", { id: `${slug}-title` }, title),
    tools,
    bulkButtons,
    h(
      "button",
      {
        type: "button",
        class: "quiet",
        "aria-label": `Export ${title} as CSV`,
        "data-export": "csv",
        onclick: () => download(`${slug}.csv`, toCsv(columns, rows), "text/csv"),
      },
      "CSV",
    ),
    h(
      "button",
      {
        type: "button",
        class: "quiet",
        "aria-label": `Export ${title} as JSON`,
        "data-export": "json",
        onclick: () => download(`${slug}.json`, JSON.stringify(rows, null, 2), "application/json"),
      },
      "JSON",
    ),
  );
  const headerCells = columns.map((c) => h("th", { scope: "col" }, c.label));
  if (selectable) {
    const all = h("input", { type: "checkbox", "aria-label": `Select all rows of ${title}` });
    all.addEventListener("change", () => {
      for (const box of body.querySelectorAll("input[data-row]")) {
        box.checked = all.checked;
        box.dispatchEvent(new Event("change"));
      }
    });
    headerCells.unshift(h("th", { scope: "col" }, all));
  }
  if (actions) headerCells.push(h("th", { scope: "col" }, "Actions"));
  const body = h(
    "tbody",
    {},
    rows.length
      ? rows.map((row) => {
          // each cell names its column: on a phone the rows stack and show it beside the value
          const cells = columns.map((c) => h("td", { "data-label": c.label }, c.cell ? c.cell(row) : fmtValue(row[c.key])));
          if (selectable) {
            const box = h("input", {
              type: "checkbox",
              "data-row": rowId(row),
              "aria-label": `Select ${rowId(row)}`,
              checked: selected.has(rowId(row)),
            });
            box.addEventListener("change", () => {
              if (box.checked) selected.add(rowId(row));
              else selected.delete(rowId(row));
              refreshBulk();
            });
            cells.unshift(h("td", { "data-label": "Select" }, box));
          }
          if (actions) cells.push(h("td", { class: "actions", "data-label": "Actions" }, actions(row)));
          return h("tr", { "data-id": rowId(row) }, cells);
        })
      : h("tr", {}, h("td", { colspan: headerCells.length, class: "empty" }, empty)),
  );
  return h(
    "section",
    { class: "table-block", "data-table": name, "aria-labelledby": `${slug}-title` },
    head,
    h("div", { class: "scroll" }, h("table", { class: "stack" }, h("caption", {}, title), h("thead", {}, h("tr", {}, headerCells)), body)),
  );
}

function fmtValue(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A labelled form control: field("Name", input). */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("span", { class: "muted" }, hint) : null);
}

export function select(name, options, value) {
  return h(
    "select",
    { name },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)),
  );
}
