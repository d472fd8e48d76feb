// What every view shares: the View base class (render, live reload, actions) and small helpers.
// Each view is a module of its own (view-*.js); app.js puts them in the navigation.
import { api } from "./api.js";
import { h, notify } from "./ui.js";

export const mono = (text) => h("code", {}, text ?? "—");
export const errorText = (e) => (e ? `${e.type || ""}${e.message ? ": " + e.message : ""}` : "—");
const ROUTE = { rty: "errors", dlq: "dead-letters", sch: "schedules", whk: "webhooks", dlv: "deliveries" };
/** The hash of a thing's own page (detail.js), from its id alone; null for ids without one. */
export const hrefOf = (id) => {
  const route = ROUTE[String(id ?? "").split("_")[0]];
  return route ? `#${route}/${id}` : null;
};
/** A link to a thing's page, labelled with its name (or its id). */
export const linkTo = (id, label) =>
  id ? (hrefOf(id) ? h("a", { href: hrefOf(id), "data-link": id }, label ?? id) : (label ?? mono(id))) : "—";
/** An id in monospace with a button that copies it. */
export function copyable(id) {
  const button = h("button", { type: "button", class: "quiet copy", "aria-label": `Copy ${id}` }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(id);
      notify(`Copied ${id}.`, "ok");
    } catch {
      notify(`Copy it by hand: ${id}`);
    }
  });
  return h("span", { class: "id-line" }, mono(id), button);
}
/** A thing's name, a link to its page (which shows the id, with Copy); without a name, its id. */
export const named = (name, id) => (name ? h("span", { class: "named" }, linkTo(id, name)) : linkTo(id, mono(id)));
/** A service by name: a schedule's (``schedule:<id>``) as "Schedule <name>", linking to its page (its key, an id, is not repeated). */
export const serviceNamed = (service, name) =>
  name && service.startsWith("schedule:")
    ? h("span", { class: "named" }, linkTo(service.slice("schedule:".length), `Schedule ${name}`))
    : service;
export const short = (text, n = 90) => (text && text.length > n ? text.slice(0, n - 1) + "…" : text);

/** Base for a view: one container, a debounced reload for live events. */
export class View {
  constructor(title, categories) {
    this.title = title;
    this.categories = categories; // event type prefixes that make this view reload
    this.container = null;
    this.pending = null;
  }

  /** Filters given in the URL (``#errors?service=payments``): a link can open a filtered list. */
  applyQuery(params) {
    if (!this.filters) return;
    for (const key of Object.keys(this.filters)) this.filters[key] = params.get(key) ?? "";
  }

  async render(container) {
    this.container = container;
    await this.load();
  }

  /**
   * Replaces the view's content; null parts (a closed form, a hidden button) are left out.
   * A live reload must not pull the rug: open details stay open, focus stays on its control, and
   * a filter typed but not applied yet stays typed.
   */
  show(...parts) {
    const keyOf = (node) => {
      if (node.id) return `#${node.id}`;
      const row = node.closest("[data-id]");
      return `${row ? row.dataset.id : ""}|${node.tagName}|${node.getAttribute("aria-label") || node.textContent.slice(0, 40)}`;
    };
    const open = new Set([...this.container.querySelectorAll("details[open]")].map((d) => keyOf(d.querySelector("summary") || d)));
    const active = this.container.contains(document.activeElement) ? keyOf(document.activeElement) : null;
    // what is typed into a filter form and not applied yet survives a live reload
    const filterKey = (control) => `${control.form?.getAttribute("aria-label")}|${control.name}`;
    const typed = new Map([...this.container.querySelectorAll("form.filters [name]")].map((c) => [filterKey(c), c.value]));
    this.container.replaceChildren(...parts.filter((p) => p !== null && p !== undefined && p !== false));
    for (const control of this.container.querySelectorAll("form.filters [name]")) {
      if (typed.has(filterKey(control))) control.value = typed.get(filterKey(control));
    }
    for (const summary of this.container.querySelectorAll("details > summary")) {
      if (open.has(keyOf(summary))) summary.parentElement.open = true;
    }
    if (active) {
      const again = [...this.container.querySelectorAll("button, a, input, select, summary, [tabindex]")].find((n) => keyOf(n) === active);
      again?.focus();
    }
  }

  onEvent(event) {
    if (this.categories.some((c) => event.type.startsWith(c))) this.reloadSoon();
  }

  reloadSoon(delay = 400) {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.container?.isConnected && this.refresh(), delay);
  }

  /** Loads again, reporting a failure as a notice (for event handlers, which nobody awaits). */
  refresh() {
    return this.load().catch((err) => notify(err.message, "error"));
  }

  /** Runs a write and reloads: the live event would too, but the operator sees it at once. */
  act(run, done) {
    return async () => {
      await run();
      if (done) notify(done, "ok");
      await this.load();
    };
  }

  /** Runs one of the batch endpoints for up to 100 ids, says what happened, and reloads. */
  async runBatch(path, ids, verb) {
    notify(batchDone(await batch(path, ids), verb), "ok");
    await this.load();
  }
}

/** One of the batch endpoints (``{"items": [{"id"}, ...]}``), for up to 100 ids. */
const batch = (path, ids) => api(path, { method: "POST", body: { items: ids.map((id) => ({ id })) } });

function batchDone(result, verb) {
  const failed = result.results.filter((r) => r.status === "error");
  return failed.length
    ? `${result.succeeded} ${verb}, ${result.failed} failed: ${failed[0].error?.message}`
    : `${result.succeeded} ${verb}.`;
}
