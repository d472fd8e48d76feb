// Form parts every field the API accepts needs: a time-zone picker, an event-type picker fed by
// /v2/events/types, "Name: value" header lines and JSON text areas that explain a mistake.
import { api } from "./api.js";
import { h } from "./ui.js";

/** Every IANA zone the browser knows, for a datalist (typing still takes any the API accepts). */
export function zonePicker(id, value) {
  const listId = `${id}-zones`;
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [
    h("input", { id, required: true, value: value || "UTC", list: listId, autocomplete: "off", spellcheck: "false" }),
    h(
      "datalist",
      { id: listId },
      ["UTC", ...zones.filter((z) => z !== "UTC")].map((z) => h("option", { value: z })),
    ),
  ];
}

let catalog = null; // the event catalog, read once per page
/**
 * Checkboxes of the catalog's event types (by category) that add and remove types in ``input``
 * (a space-separated list, which still takes patterns like ``schedule.*`` or ``custom.*``).
 */
export function eventTypePicker(input) {
  const box = h("fieldset", { class: "type-picker" }, h("legend", {}, "Pick event types"));
  const sync = () => {
    const chosen = new Set(input.value.split(/[\s,]+/).filter(Boolean));
    for (const check of box.querySelectorAll("input[type=checkbox]")) check.checked = chosen.has(check.value);
  };
  const toggle = (type, on) => {
    const chosen = input.value.split(/[\s,]+/).filter(Boolean);
    const next = on ? [...chosen.filter((t) => t !== "*"), type] : chosen.filter((t) => t !== type);
    input.value = [...new Set(next)].join(" ");
    input.dispatchEvent(new Event("input"));
  };
  input.addEventListener("input", sync);
  if (catalog === null) catalog = api("events/types");
  catalog
    .then((answer) => {
      const byCategory = new Map();
      for (const type of answer.items) {
        const category = type.category;
        if (!byCategory.has(category)) byCategory.set(category, []);
        byCategory.get(category).push(type);
      }
      for (const [category, types] of byCategory) {
        box.append(
          h(
            "div",
            { class: "type-group" },
            h("strong", {}, category),
            types.map((type) => {
              const check = h("input", { type: "checkbox", value: type.type, onchange: (e) => toggle(type.type, e.target.checked) });
              return h("label", { title: type.description }, check, ` ${type.type}`);
            }),
          ),
        );
      }
      sync();
    })
    .catch(() => box.append(h("p", { class: "muted" }, "The event catalog could not be read: type the event types.")));
  return box;
}

/** ``Name: value`` lines as a headers object (a masked value sent back keeps the stored one). */
export function parseHeaders(text) {
  const headers = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf(":");
    if (at < 1) throw new Error(`Headers: "${line.trim()}" is not "Name: value".`);
    headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return headers;
}

export const headerLines = (headers) =>
  Object.entries(headers || {})
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");

/** JSON typed in a text area; empty is ``empty``; a mistake names the field. */
export function parseJson(label, text, empty = null) {
  if (!text.trim()) return empty;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${label} is not JSON: ${err.message}`);
  }
}

export const jsonText = (value) => (value === null || value === undefined ? "" : JSON.stringify(value, null, 2));

/** A number input's value, or ``empty`` when it is blank. */
export const numberOr = (input, empty = null) => (input.value.trim() === "" ? empty : Number(input.value));
